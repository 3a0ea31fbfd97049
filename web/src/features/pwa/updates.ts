/**
 * The service worker's registration and the "New version available" state, without React.
 *
 * A new build's worker installs beside the running one and waits (sw.ts never skips
 * waiting on its own, so an open tab's scripts keep working). When one is waiting and
 * this page is controlled by the old one, the page offers to reload: `applyUpdate()` asks
 * the waiting worker to take over, and the page reloads once it has (controllerchange).
 * The first install on a fresh visit is not an update: nothing is offered then.
 */

/** What the update prompt shows. */
export type UpdateState = "none" | "available" | "applying";

type Listener = () => void;

/** The parts of ServiceWorkerContainer / Registration this module uses (tests pass fakes). */
export interface WorkerLike extends EventTarget {
  readonly state: string;
  postMessage(message: unknown): void;
}
export interface RegistrationLike extends EventTarget {
  readonly installing: WorkerLike | null;
  readonly waiting: WorkerLike | null;
  update(): Promise<unknown>;
}
export interface ContainerLike extends EventTarget {
  readonly controller: unknown;
}

export class UpdateWatcher {
  private stateValue: UpdateState = "none";
  private waiting: WorkerLike | null = null;
  private readonly listeners = new Set<Listener>();
  private reloading = false;

  constructor(
    private readonly container: ContainerLike,
    private readonly reload: () => void,
  ) {
    container.addEventListener("controllerchange", () => {
      // Only the takeover this page asked for reloads it; a first install claiming the
      // page (clients.claim) changes nothing it runs.
      if (this.stateValue !== "applying" || this.reloading) return;
      this.reloading = true;
      this.reload();
    });
  }

  get state(): UpdateState {
    return this.stateValue;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Follow a registration: a worker waiting now, or one that finishes installing later. */
  watch(registration: RegistrationLike): void {
    if (registration.waiting) this.offer(registration.waiting);
    registration.addEventListener("updatefound", () => {
      const installing = registration.installing;
      if (!installing) return;
      installing.addEventListener("statechange", () => {
        if (installing.state === "installed") this.offer(installing);
      });
    });
  }

  /** Take the new version: the waiting worker activates, then the page reloads. */
  applyUpdate(): void {
    if (!this.waiting || this.stateValue === "applying") return;
    this.set("applying");
    this.waiting.postMessage({ type: "SKIP_WAITING" });
  }

  /** Not now: the prompt goes away until another version arrives. */
  dismiss(): void {
    if (this.stateValue === "available") this.set("none");
  }

  private offer(worker: WorkerLike): void {
    // No controller: this is the first install, not an update of a running app.
    if (!this.container.controller) return;
    this.waiting = worker;
    if (this.stateValue !== "applying") this.set("available");
  }

  private set(state: UpdateState): void {
    this.stateValue = state;
    for (const l of this.listeners) l();
  }
}

/** How often an open app asks the server for a new build (browsers also check on navigation). */
export const UPDATE_CHECK_MS = 60 * 60 * 1000;

let watcher: UpdateWatcher | null = null;

export function getUpdateWatcher(): UpdateWatcher | null {
  return watcher;
}

/**
 * Register /sw.js (production builds, where the browser has service workers). `onOpen`
 * receives the in-app URL a notification click asks for.
 */
export async function registerServiceWorker(onOpen: (url: string) => void): Promise<void> {
  if (!("serviceWorker" in navigator)) return;
  const container = navigator.serviceWorker;
  watcher ??= new UpdateWatcher(container, () => window.location.reload());
  container.addEventListener("message", (event: MessageEvent<unknown>) => {
    const data = event.data as { type?: unknown; url?: unknown } | null;
    if (data?.type === "chatapi:open" && typeof data.url === "string" && data.url.startsWith("/")) onOpen(data.url);
  });
  try {
    const registration = await container.register("/sw.js", { scope: "/" });
    watcher.watch(registration);
    const check = () => void registration.update().catch(() => undefined);
    setInterval(check, UPDATE_CHECK_MS);
    window.addEventListener("online", check);
  } catch {
    // No worker (private mode, blocked by policy): the app runs, without offline start.
  }
}
