// Loads the module of the page the server rendered (`data-page` on <main>).

import { errorPage } from "./ui.js";

const target = document.getElementById("main");
const page = target.dataset.page;

import(`./pages/${page}.js`)
  .then((module) => module.default(target.dataset.arg))
  .catch((error) => errorPage("This page failed", String(error && error.message || error)));
