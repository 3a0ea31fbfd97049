import { useState } from "react";
import { Alert, Button, Form, Modal } from "react-bootstrap";
import { useReport, type ReportReason, type ReportTarget } from "./api";

const REASONS: { value: ReportReason; label: string; hint: string }[] = [
  { value: "spam", label: "Spam", hint: "Advertising, scams, the same message sent to many people" },
  { value: "abuse", label: "Abuse", hint: "Harassment, threats, hate" },
  { value: "other", label: "Something else", hint: "Tell the moderators what is wrong" },
];

/**
 * Report a message or a person to the server's moderators. After sending, the dialog
 * confirms it; the reported person is not told.
 */
export function ReportDialog({ target, onHide }: { target: ReportTarget | null; onHide: () => void }) {
  const [reason, setReason] = useState<ReportReason>("spam");
  const [text, setText] = useState("");
  const report = useReport();
  const done = report.isSuccess;
  function close() {
    report.reset();
    setReason("spam");
    setText("");
    onHide();
  }
  return (
    <Modal show={target !== null} onHide={close} centered aria-labelledby="report-title">
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          if (target) report.mutate({ target, reason, text: text.trim() });
        }}
      >
        <Modal.Header closeButton>
          <Modal.Title id="report-title" className="h5">
            {done ? "Report sent" : `Report ${target?.label ?? ""}`}
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          {done ? (
            <p className="mb-0" role="status" data-testid="report-confirmation">
              {report.data.detail}
            </p>
          ) : (
            <>
              <fieldset>
                <legend className="form-label fs-6">Why?</legend>
                {REASONS.map((r) => (
                  <Form.Check
                    key={r.value}
                    type="radio"
                    id={`report-${r.value}`}
                    name="report-reason"
                    className="mb-2"
                    checked={reason === r.value}
                    onChange={() => setReason(r.value)}
                    label={
                      <>
                        <span className="fw-semibold">{r.label}</span>
                        <span className="d-block small text-body-secondary">{r.hint}</span>
                      </>
                    }
                  />
                ))}
              </fieldset>
              <Form.Group controlId="report-text">
                <Form.Label>Details {reason === "other" ? "" : "(optional)"}</Form.Label>
                <Form.Control
                  as="textarea"
                  rows={3}
                  maxLength={1000}
                  value={text}
                  required={reason === "other"}
                  onChange={(e) => setText(e.target.value)}
                />
              </Form.Group>
              {report.error ? (
                <Alert variant="danger" className="mt-3 mb-0 py-2 small">
                  {report.error.message}
                </Alert>
              ) : null}
            </>
          )}
        </Modal.Body>
        <Modal.Footer>
          {done ? (
            <Button onClick={close}>Done</Button>
          ) : (
            <>
              <Button variant="outline-secondary" onClick={close}>
                Cancel
              </Button>
              <Button type="submit" variant="danger" disabled={report.isPending}>
                Send report
              </Button>
            </>
          )}
        </Modal.Footer>
      </Form>
    </Modal>
  );
}
