export function PlaceholderPage({ title, text }: { title: string; text: string }) {
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">{title}</h1>
      <p>{text}</p>
    </section>
  );
}
