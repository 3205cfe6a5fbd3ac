/** The page for a model id this server does not host. */
import { Header } from './header.tsx';

export function Missing({ id }: { id: string }) {
  return (
    <>
      <Header />
      <main id="main">
        <h1>No model {id}</h1>
        <p>
          This server hosts no model with that id. <a href="/spaces">See every hosted model</a>.
        </p>
      </main>
    </>
  );
}
