// Exchanges the admin key for an HttpOnly session cookie, then loads the dashboard.
const theme = localStorage.getItem('theme') ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
document.documentElement.dataset.theme = theme;

document.querySelector('#key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const response = await fetch('/dashboard/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: document.querySelector('#admin-key').value }),
  });
  if (response.ok) location.reload();
  else document.querySelector('#login-error').hidden = false;
});
