import { useId, useRef, useState, type ChangeEvent, type FormEvent } from "react";
import { Alert, Button, Form, Modal } from "react-bootstrap";
import { Avatar } from "../../components/Avatar";
import { useAuth } from "../auth/AuthProvider";
import { useRemovePicture, useRename, useSetPicture } from "./api";
import { AvatarCropper } from "./AvatarCropper";
import type { CropBox } from "./cropMath";

const MAX_NAME = 64;
const ACCEPTED = "image/png,image/jpeg,image/gif,image/webp";

function messageOf(error: unknown, fallback: string): string {
  return error instanceof Error ? error.message : fallback;
}

/**
 * My profile, as others see it: the picture (uploaded, cut square with the cropper, or
 * removed) and the display name. Others see changes live (`user.updated`).
 */
export function ProfileModal({ show, onHide }: { show: boolean; onHide: () => void }) {
  return (
    <Modal show={show} onHide={onHide} aria-labelledby="profile-title" fullscreen="sm-down">
      <Modal.Header closeButton>
        <Modal.Title id="profile-title" as="h2" className="h5">
          Profile
        </Modal.Title>
      </Modal.Header>
      <Modal.Body className="d-flex flex-column gap-4">
        <PictureSection />
        <NameForm />
      </Modal.Body>
    </Modal>
  );
}

function PictureSection() {
  const { me } = useAuth();
  const ids = useId();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [crop, setCrop] = useState<CropBox | null>(null);
  const [unreadable, setUnreadable] = useState(false);
  const upload = useSetPicture();
  const remove = useRemovePicture();
  const busy = upload.isPending || remove.isPending;

  function pick(e: ChangeEvent<HTMLInputElement>) {
    const chosen = e.target.files?.[0] ?? null;
    e.target.value = ""; // choosing the same file again still counts
    upload.reset();
    remove.reset();
    setUnreadable(false);
    setFile(chosen);
  }

  async function save() {
    if (!file || !crop) return;
    try {
      await upload.mutateAsync({ file, crop });
      setFile(null);
    } catch {
      // Shown from the mutation's state.
    }
  }

  const error = unreadable
    ? "This file cannot be shown as a picture. Choose a JPEG, PNG, GIF or WebP image."
    : upload.isError
      ? messageOf(upload.error, "The picture was not saved.")
      : remove.isError
        ? messageOf(remove.error, "The picture was not removed.")
        : null;

  return (
    <section aria-labelledby={`${ids}-title`} className="d-flex flex-column gap-2">
      <h3 id={`${ids}-title`} className="h6">
        Picture
      </h3>
      {error ? (
        <Alert variant="danger" role="alert" data-testid="picture-error" className="mb-0">
          {error}
        </Alert>
      ) : null}
      <input
        ref={input}
        type="file"
        accept={ACCEPTED}
        className="visually-hidden"
        tabIndex={-1}
        aria-hidden="true"
        data-testid="picture-input"
        onChange={pick}
      />
      {file && !unreadable ? (
        <>
          <AvatarCropper file={file} onChange={setCrop} onUnreadable={() => setUnreadable(true)} />
          <div className="d-flex gap-2 justify-content-center">
            <Button onClick={() => void save()} disabled={!crop || busy} data-testid="picture-save">
              {upload.isPending ? "Saving…" : "Save picture"}
            </Button>
            <Button variant="outline-secondary" onClick={() => setFile(null)} disabled={upload.isPending}>
              Cancel
            </Button>
          </div>
        </>
      ) : (
        <div className="d-flex align-items-center gap-3">
          <Avatar name={me?.display_name ?? ""} seed={me?.id ?? ""} imageUrl={me?.avatar_url} large />
          <div className="d-flex flex-wrap gap-2">
            <Button variant="outline-primary" onClick={() => input.current?.click()} disabled={busy}>
              {me?.avatar_url ? "Change picture…" : "Upload a picture…"}
            </Button>
            {me?.avatar_url ? (
              <Button
                variant="outline-danger"
                onClick={() => remove.mutate()}
                disabled={busy}
                data-testid="picture-remove"
              >
                {remove.isPending ? "Removing…" : "Remove picture"}
              </Button>
            ) : null}
          </div>
        </div>
      )}
      <Form.Text>JPEG, PNG, GIF or WebP. People see it round; it is stored square, 256 by 256 pixels.</Form.Text>
    </section>
  );
}

function NameForm() {
  const { me } = useAuth();
  const rename = useRename();
  const ids = useId();
  const [name, setName] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const value = name ?? me?.display_name ?? "";
  const empty = !value.trim();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    if (empty) return;
    try {
      await rename.mutateAsync(value.trim());
      setName(null);
      setSaved(true);
    } catch {
      // Shown from the mutation's state.
    }
  }

  return (
    <section aria-labelledby={`${ids}-title`}>
      <h3 id={`${ids}-title`} className="h6">
        Display name
      </h3>
      {saved ? (
        <Alert variant="success" role="status" data-testid="name-saved">
          Saved. People in your conversations see it now.
        </Alert>
      ) : null}
      {rename.isError ? (
        <Alert variant="danger" role="alert">
          {messageOf(rename.error, "The name was not changed.")}
        </Alert>
      ) : null}
      <Form noValidate onSubmit={(e) => void submit(e)} className="d-flex gap-2 align-items-start">
        <Form.Group controlId={`${ids}-name`} className="flex-grow-1">
          <Form.Label visuallyHidden>Display name</Form.Label>
          <Form.Control
            value={value}
            maxLength={MAX_NAME}
            autoComplete="name"
            onChange={(e) => {
              setName(e.target.value);
              setSaved(false);
            }}
            isInvalid={name !== null && empty}
            data-testid="display-name-input"
          />
          <Form.Control.Feedback type="invalid">Type a name people will know you by.</Form.Control.Feedback>
        </Form.Group>
        <Button type="submit" disabled={rename.isPending || empty || value.trim() === me?.display_name}>
          {rename.isPending ? "Saving…" : "Save"}
        </Button>
      </Form>
    </section>
  );
}
