import { Button } from "react-bootstrap";

/** The empty state's call to action: to the people search at the top of the chat list. */
export function StartChatButton() {
  return (
    <Button
      variant="primary"
      className="rounded-pill px-4"
      onClick={() => {
        const search = document.getElementById("people-search");
        search?.focus();
        search?.scrollIntoView({ block: "nearest" });
      }}
    >
      Start a conversation
    </Button>
  );
}
