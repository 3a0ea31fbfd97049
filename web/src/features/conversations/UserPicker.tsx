import { useId, useState, type Ref } from "react";
import { Form, ListGroup, Spinner } from "react-bootstrap";
import type { User } from "../../api/types";
import { Avatar } from "../../components/Avatar";
import { useUserSearch } from "./api";

/** Search people by username prefix and pick one. */
export function UserPicker({
  label,
  onPick,
  exclude = [],
  actionLabel = (u: User) => `Choose ${u.display_name}`,
  inputRef,
  inputId,
}: {
  label: string;
  inputRef?: Ref<HTMLInputElement>;
  /** a stable id for the search box, for links and buttons that focus it */
  inputId?: string;
  onPick: (user: User) => void;
  exclude?: string[];
  actionLabel?: (u: User) => string;
}) {
  const [q, setQ] = useState("");
  const generated = useId();
  const id = inputId ?? generated;
  const search = useUserSearch(q);
  const results = (search.data ?? []).filter((u) => !exclude.includes(u.id));
  return (
    <div>
      <Form.Label htmlFor={id} className="visually-hidden">
        {label}
      </Form.Label>
      <Form.Control
        ref={inputRef}
        id={id}
        type="search"
        placeholder={label}
        value={q}
        autoComplete="off"
        onChange={(e) => setQ(e.target.value)}
      />
      {q.trim() ? (
        <ListGroup className="mt-2" aria-label="People found">
          {search.isFetching && !search.data ? (
            <ListGroup.Item>
              <Spinner size="sm" animation="border" role="status" aria-label="Searching" />
            </ListGroup.Item>
          ) : results.length === 0 ? (
            <ListGroup.Item className="text-body-secondary small">No one found.</ListGroup.Item>
          ) : (
            results.map((u) => (
              <ListGroup.Item
                key={u.id}
                action
                as="button"
                type="button"
                className="d-flex align-items-center gap-2"
                aria-label={actionLabel(u)}
                onClick={() => {
                  onPick(u);
                  setQ("");
                }}
              >
                <Avatar name={u.display_name} seed={u.id} online={u.online} imageUrl={u.avatar_thumb_url} small />
                <span className="min-w-0 text-truncate">
                  {u.display_name} <span className="text-body-secondary small">@{u.username}</span>
                </span>
              </ListGroup.Item>
            ))
          )}
        </ListGroup>
      ) : null}
    </div>
  );
}
