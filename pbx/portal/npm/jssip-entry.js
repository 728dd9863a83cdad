// The browser build of JsSIP: npm ships it as CommonJS only, esbuild bundles it (with its
// dependencies) into one script that sets window.JsSIP. Built by `make install`, never committed.
window.JsSIP = require("jssip");
