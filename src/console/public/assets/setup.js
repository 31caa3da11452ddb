import { checkSetupToken, completeSetup } from './api.js';

const token = new URLSearchParams(window.location.search).get('token') || '';
// The token stays out of the address bar (and history) once read.
window.history.replaceState(null, '', '/setup');
const form = document.getElementById('setup');
const status = document.getElementById('setup-status');
const error = document.getElementById('setup-error');

async function start() {
  try {
    const { valid } = token ? await checkSetupToken(token) : { valid: false };
    if (!valid) {
      status.className = 'error';
      status.textContent =
        'This link is invalid, expired or already used. Ask an operator for a new one: npx orgplane users setup-link --email you@example.com';
      return;
    }
    status.hidden = true;
    form.hidden = false;
    form.password.focus();
  } catch (err) {
    status.className = 'error';
    status.textContent = err.message;
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const password = form.password.value;
  let problem = null;
  if (password.length < 8) problem = 'The password must be at least 8 characters.';
  else if (password !== form.confirm.value) problem = 'The two passwords differ.';
  if (problem) {
    error.textContent = problem;
    error.hidden = false;
    form.password.focus();
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await completeSetup(token, password);
    window.location.assign('/');
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    button.disabled = false;
  }
});

start();
