import { afterEach, describe, expect, it } from "vitest";
import { installDialogFocusTrap } from "./focusTrap";

function page() {
  document.body.innerHTML = `
    <a href="#main" id="skip">Skip to conversation</a>
    <button id="behind">Behind the dialog</button>
    <div class="modal show" role="dialog" tabindex="-1" id="dialog">
      <button id="close">Close</button>
      <input id="name" />
      <button id="hidden" tabindex="-1">Not in the tab order</button>
      <button id="save" disabled>Save</button>
      <button id="create">Create group</button>
    </div>`;
  const $ = (id: string) => document.getElementById(id) as HTMLElement;
  const tab = (shift = false) => {
    const event = new KeyboardEvent("keydown", { key: "Tab", shiftKey: shift, bubbles: true, cancelable: true });
    (document.activeElement ?? document.body).dispatchEvent(event);
    return event.defaultPrevented;
  };
  return { $, tab };
}

describe("focus in an open dialog", () => {
  let remove = () => {};
  afterEach(() => {
    remove();
    document.body.innerHTML = "";
  });

  it("Tab on the last control wraps to the first", () => {
    remove = installDialogFocusTrap();
    const { $, tab } = page();
    $("create").focus();
    expect(tab()).toBe(true);
    expect(document.activeElement).toBe($("close"));
  });

  it("Shift+Tab on the first control (or on the dialog itself) wraps to the last", () => {
    remove = installDialogFocusTrap();
    const { $, tab } = page();
    $("close").focus();
    expect(tab(true)).toBe(true);
    expect(document.activeElement).toBe($("create"));
    $("dialog").focus();
    tab(true);
    expect(document.activeElement).toBe($("create"));
  });

  it("focus outside the open dialog is brought in, never left on the page behind", () => {
    remove = installDialogFocusTrap();
    const { $, tab } = page();
    $("skip").focus();
    expect(tab()).toBe(true);
    expect(document.activeElement).toBe($("close"));
  });

  it("between the ends the browser moves focus as usual", () => {
    remove = installDialogFocusTrap();
    const { $, tab } = page();
    $("close").focus();
    expect(tab()).toBe(false);
  });

  it("does nothing without an open dialog", () => {
    remove = installDialogFocusTrap();
    const { $, tab } = page();
    $("dialog").remove();
    $("behind").focus();
    expect(tab()).toBe(false);
  });
});
