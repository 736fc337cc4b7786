/** The engine's refusal of one field, shown under it (and named by the field through aria-describedby). */
export function FieldIssue({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <span className="field-error" id={id} role="alert" data-testid={`issue-${id}`}>
      {message}
    </span>
  );
}
