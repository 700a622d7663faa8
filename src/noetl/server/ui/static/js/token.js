// The token prompt: one dialog, shared by every request that needs it.

let pending = null;

/** Ask for the API token (once at a time); resolves with what the user typed. */
export function askToken(wrong) {
  if (pending) return pending;
  pending = new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "token";
    dialog.setAttribute("aria-labelledby", "token-title");
    dialog.innerHTML = `
      <form method="dialog">
        <h2 id="token-title">API token</h2>
        <p>This server asks for its API token (NOETL_API_TOKEN). It is kept for this browser
        tab's session only.</p>
        <p class="error" ${wrong ? "" : "hidden"}>That token was not accepted.</p>
        <label>Token <input name="token" type="password" autocomplete="off" required autofocus></label>
        <div class="actions"><button type="submit" class="primary">Continue</button></div>
      </form>`;
    document.body.append(dialog);
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    dialog.querySelector("form").addEventListener("submit", () => {
      const token = dialog.querySelector("input").value.trim();
      dialog.close();
      dialog.remove();
      pending = null;
      resolve(token);
    });
    dialog.showModal();
  });
  return pending;
}
