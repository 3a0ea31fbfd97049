import { useMemo } from "react";
import type { Message } from "../../api/types";
import { isEmojiOnly, renderMarkdown } from "./renderMarkdown";
import "./messageBody.css";

interface Props {
  body: string;
  /** The message's mentions as the server stored them (none for a message not yet sent). */
  mentions?: Pick<Message, "mentions" | "mentions_all"> | undefined;
  /** user id -> username, for the conversation's members. */
  usernames?: ReadonlyMap<string, string> | undefined;
  meId?: string | undefined;
}

/**
 * A message's text, formatted: the markdown subset of `renderMarkdown`, sanitized there
 * (raw HTML is never passed through), mentions highlighted, a body of one to three emoji
 * drawn large.
 */
export function MessageBody({ body, mentions, usernames, meId }: Props) {
  const html = useMemo(() => {
    const names = new Set<string>();
    for (const id of mentions?.mentions ?? []) {
      const name = usernames?.get(id);
      if (name) names.add(name.toLowerCase());
    }
    const me = meId ? usernames?.get(meId)?.toLowerCase() : undefined;
    return renderMarkdown(body, { names, all: Boolean(mentions?.mentions_all), me });
  }, [body, mentions, usernames, meId]);
  return (
    <div
      className={`message-body${isEmojiOnly(body) ? " emoji-only" : ""}`}
      data-testid="message-body"
      dir="auto"
      // renderMarkdown's output is sanitized by DOMPurify with a strict allow-list.
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
}
