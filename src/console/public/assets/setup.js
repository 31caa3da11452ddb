import { checkSetupToken, completeSetup } from './api.js';

const token = new URLSearchParams(window.location.search).get('token') || '';
// The token stays out of the address bar (and history) once read.
window.history.replaceState(null, '', '/setup');
const form = document.getElementById('setup');
const status = document.getElementById('setup-status');
const error = document.getElementById('setup-error');
// The server states the password rule (src/domain/passwords.ts); 8 only until it has answered.
let minLength = 8;

async function start() {
  try {
    const { valid, password } = token ? await checkSetupToken(token) : { valid: false };
    if (password && password.min_length) {
      minLength = password.min_length;
      form.password.minLength = minLength;
      document.getElementById('password-hint').textContent = `At least ${minLength} characters.`;
    }
    if (!valid) {
      status.className = 'error';
      status.textContent =
        'This link is invalid, expired or already used. Ask an operator for a new one: npx orgplane users setup-link --email you@example.com';
      return;
    }
    status.hidden = true;
    form.hidden = false;
    form.password.focus();
  } catch {
    status.className = 'notice error';
    status.textContent = 'The server could not check the link. Reload the page to try again.';
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const password = form.password.value;
  let problem = null;
  if (password.length < minLength) problem = `The password must be at least ${minLength} characters.`;
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
