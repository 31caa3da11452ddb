// The join page's one script: the copy button of the one-time API key (no inline code under the
// page's strict CSP).
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const source = document.getElementById(button.dataset.copy);
    const status = button.parentElement.querySelector('.copy-status');
    let ok = false;
    try {
      await navigator.clipboard.writeText(source.textContent);
      ok = true;
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      ok = document.execCommand('copy');
    }
    if (status) status.textContent = ok ? 'Copied to the clipboard.' : 'Select the key and copy it by hand.';
  });
}
