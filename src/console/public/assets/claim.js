// The claim page of a project transfer request (/transfer-requests/{request_id}?project_id=…):
// the signed-in user picks one of their organizations and accepts through the public API.
import { api, loadSession } from './api.js';

const form = document.getElementById('claim');
const select = form.org;
const button = form.querySelector('button[type=submit]');
const error = document.getElementById('claim-error');
const done = document.getElementById('claim-done');
const requestId = decodeURIComponent(window.location.pathname.split('/').pop() || '');
const projectId = new URLSearchParams(window.location.search).get('project_id') || '';
document.getElementById('claim-project').textContent = projectId || '(missing project_id)';

function fail(message) {
  error.textContent = message;
  error.hidden = false;
}

async function start() {
  await loadSession();
  const { organizations } = await api('GET', '/users/me/organizations');
  select.replaceChildren(
    ...organizations.map((o) => {
      const option = document.createElement('option');
      option.value = o.id;
      option.textContent = `${o.name} (${o.id})`;
      return option;
    }),
  );
  if (organizations.length === 0) return fail('You are not a member of any organization.');
  select.disabled = false;
  button.disabled = !projectId;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  button.disabled = true;
  try {
    const path = `/projects/${encodeURIComponent(projectId)}/transfer_requests/${encodeURIComponent(requestId)}`;
    await api('PUT', path, { org_id: select.value });
    done.textContent = `Done: project ${projectId} now belongs to ${select.value}.`;
    done.hidden = false;
    select.disabled = true;
  } catch (err) {
    fail(err.message);
    button.disabled = false;
  }
});

start().catch((err) => fail(err.message));
