import { safeNext, signIn } from './api.js';

const form = document.getElementById('signin');
const error = document.getElementById('signin-error');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const email = form.email.value.trim();
  const password = form.password.value;
  error.hidden = true;
  if (!email || !password) {
    error.textContent = 'Enter your email and password.';
    error.hidden = false;
    (email ? form.password : form.email).focus();
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    await signIn(email, password);
    window.location.assign(safeNext(new URLSearchParams(window.location.search).get('next')));
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    form.password.value = '';
    form.password.focus();
    button.disabled = false;
    button.textContent = 'Sign in';
  }
});
