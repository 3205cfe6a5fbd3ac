/** The top bar of every Spaces page: the brand and a link back to the gallery, plus whatever a page adds. */
export function Header({ children }: { children?: preact.ComponentChildren }) {
  return (
    <header class="top">
      <a class="brand" href="/spaces">
        modelhost <span class="muted">Spaces</span>
      </a>
      <nav aria-label="Site">
        <a href="/spaces">All models</a>
        {children}
      </nav>
    </header>
  );
}
