import { useState } from "react";
import { Icon } from "../../components/Icon";
import { Modal } from "react-bootstrap";
import type { Media } from "../../api/types";
import { formatBytes } from "../../lib/format";

export function Attachment({ media }: { media: Media }) {
  const [open, setOpen] = useState(false);
  if (media.content_type.startsWith("image/")) {
    return (
      <>
        <button
          type="button"
          className="attachment-thumb my-1"
          onClick={() => setOpen(true)}
          aria-label={`Open image ${media.filename}`}
        >
          <img
            src={media.thumbnail_url ?? media.url}
            alt={media.filename}
            width={media.width ?? undefined}
            height={media.height ?? undefined}
            loading="lazy"
            style={{ width: "auto", height: "auto" }}
            data-testid="image-thumbnail"
          />
        </button>
        <Modal show={open} onHide={() => setOpen(false)} size="xl" centered aria-label={media.filename}>
          <Modal.Header closeButton>
            <Modal.Title as="h2" className="h6 text-truncate">
              {media.filename}
            </Modal.Title>
          </Modal.Header>
          <Modal.Body className="text-center p-2">
            <img src={media.url} alt={media.filename} className="img-fluid" style={{ maxHeight: "80vh" }} />
          </Modal.Body>
        </Modal>
      </>
    );
  }
  if (media.content_type.startsWith("video/")) {
    return (
      <video
        className="attachment-video my-1 d-block"
        controls
        preload="metadata"
        src={media.url}
        aria-label={media.filename}
      >
        <track kind="captions" />
      </video>
    );
  }
  if (media.content_type.startsWith("audio/")) {
    return (
      <audio className="d-block my-1 mw-100" controls preload="metadata" src={media.url} aria-label={media.filename} />
    );
  }
  return (
    <a
      href={media.url}
      target="_blank"
      rel="noreferrer"
      download={media.filename}
      data-testid="document-chip"
      className="doc-chip my-1"
    >
      <span className="doc-chip-icon" aria-hidden="true">
        <Icon name="file" />
      </span>
      <span className="doc-chip-text">
        <span className="doc-chip-name text-truncate" dir="auto">
          {media.filename}
        </span>
        <small className="doc-chip-size">{formatBytes(media.size)}</small>
      </span>
    </a>
  );
}
