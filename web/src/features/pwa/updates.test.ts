import { UpdateWatcher, type RegistrationLike, type WorkerLike } from "./updates";

class Worker extends EventTarget implements WorkerLike {
  state = "installing";
  messages: unknown[] = [];
  postMessage(message: unknown) {
    this.messages.push(message);
  }
  become(state: string) {
    this.state = state;
    this.dispatchEvent(new Event("statechange"));
  }
}

class Registration extends EventTarget implements RegistrationLike {
  installing: Worker | null = null;
  waiting: Worker | null = null;
  update = () => Promise.resolve();
  /** A new build is found: it starts installing. */
  found(): Worker {
    const w = new Worker();
    this.installing = w;
    this.dispatchEvent(new Event("updatefound"));
    return w;
  }
}

class Container extends EventTarget {
  constructor(public controller: unknown) {
    super();
  }
}

function setup(controlled = true) {
  const container = new Container(controlled ? {} : null);
  const reload = vi.fn();
  const watcher = new UpdateWatcher(container, reload);
  const registration = new Registration();
  const seen: string[] = [];
  watcher.subscribe(() => seen.push(watcher.state));
  return { container, reload, watcher, registration, seen };
}

describe("the update prompt", () => {
  it("appears when a new build has installed and waits", () => {
    const { watcher, registration } = setup();
    watcher.watch(registration);
    const next = registration.found();
    expect(watcher.state).toBe("none");
    next.become("installed");
    expect(watcher.state).toBe("available");
  });

  it("appears at start when a build was already waiting", () => {
    const { watcher, registration } = setup();
    registration.waiting = new Worker();
    watcher.watch(registration);
    expect(watcher.state).toBe("available");
  });

  it("does not appear for the first install (nothing running to replace)", () => {
    const { watcher, registration } = setup(false);
    watcher.watch(registration);
    registration.found().become("installed");
    expect(watcher.state).toBe("none");
  });

  it("reload asks the waiting worker to take over, and the page reloads once it has", () => {
    const { container, watcher, registration, reload, seen } = setup();
    watcher.watch(registration);
    const next = registration.found();
    next.become("installed");
    watcher.applyUpdate();
    expect(next.messages).toEqual([{ type: "SKIP_WAITING" }]);
    expect(watcher.state).toBe("applying");
    expect(reload).not.toHaveBeenCalled();
    container.dispatchEvent(new Event("controllerchange"));
    container.dispatchEvent(new Event("controllerchange"));
    expect(reload).toHaveBeenCalledTimes(1);
    expect(seen).toEqual(["available", "applying"]);
  });

  it("a takeover the page did not ask for does not reload it", () => {
    const { container, watcher, registration, reload } = setup();
    watcher.watch(registration);
    container.dispatchEvent(new Event("controllerchange"));
    expect(reload).not.toHaveBeenCalled();
  });

  it("later hides it until another version arrives", () => {
    const { watcher, registration } = setup();
    watcher.watch(registration);
    registration.found().become("installed");
    watcher.dismiss();
    expect(watcher.state).toBe("none");
    registration.found().become("installed");
    expect(watcher.state).toBe("available");
  });

  it("reload without a waiting worker does nothing", () => {
    const { watcher } = setup();
    watcher.applyUpdate();
    expect(watcher.state).toBe("none");
  });
});
