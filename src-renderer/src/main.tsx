import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { RunsProvider } from './shared/runs/runs-context';
import { ClientContext } from './client/client-context';
import { createClient } from './client/sluice-client';
import './styles.css';

const client = createClient();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ClientContext.Provider value={client}>
      <RunsProvider>
        <App />
      </RunsProvider>
    </ClientContext.Provider>
  </StrictMode>,
);
