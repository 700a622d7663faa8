// Any other path: say so, and where to go.

import { errorPage, h } from "../ui.js";

export default function missingPage(path) {
  errorPage("Page not found", `There is no page at ${path}.`, h("p", {}, h("a", { href: "/" }, "Executions"), " · ", h("a", { href: "/playbooks" }, "Playbooks")));
}
