/**
 * `pnpm build`: every package to ESM and CommonJS with declarations and source maps, as Effect's
 * own packages ship (tsc for ESM and declarations, babel for CommonJS and pure-call annotations).
 *
 *   packages/<name>/build/tsc  what tsc -b tsconfig.build.json emits (incremental, kept between builds)
 *   packages/<name>/build/esm  those ES modules annotated for tree shaking, .d.ts, maps back to src
 *   packages/<name>/build/cjs  the same modules as CommonJS (package.json {"type":"commonjs"}), with
 *                              the declarations copied, so `require` gets CommonJS types
 *
 * The packed package.json points at these through `publishConfig`; inside the workspace the
 * `exports` stay on `src`, so tests and the demo need no build.
 */
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { type PluginObj, type PluginPass, transformSync, types as t } from "@babel/core"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const require = createRequire(import.meta.url)
const packages = ["core", "testkit", "kafka"] as const

/** CommonJS has no `import.meta`: `import.meta.url` becomes the module's file URL. */
const importMetaUrl = (): PluginObj<PluginPass> => ({
  name: "import-meta-url-to-commonjs",
  visitor: {
    MemberExpression(path) {
      const { object, property } = path.node
      if (t.isMetaProperty(object) && object.meta.name === "import" && t.isIdentifier(property, { name: "url" })) {
        path.replaceWith(
          t.memberExpression(
            // `module.require`: a module-level `require` binding of the source would shadow a bare one.
            t.callExpression(
              t.memberExpression(
                t.callExpression(t.memberExpression(t.identifier("module"), t.identifier("require")), [t.stringLiteral("node:url")]),
                t.identifier("pathToFileURL"),
              ),
              [t.identifier("__filename")],
            ),
            t.identifier("href"),
          ),
        )
      }
    },
  },
})

const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]))

const step = (label: string, f: () => void) => {
  const started = Date.now()
  f()
  console.log(`${label} (${Date.now() - started} ms)`)
}


step("tsc: ESM and declarations", () =>
  execFileSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-b", ...packages.map((n) => join(root, "packages", n, "tsconfig.build.json"))],
    { stdio: "inherit" },
  ),
)

const pure = require.resolve("babel-plugin-annotate-pure-calls")
const commonjs = require.resolve("@babel/plugin-transform-modules-commonjs")
const namespaceFrom = require.resolve("@babel/plugin-transform-export-namespace-from")

for (const name of packages) {
  const pkg = join(root, "packages", name)
  const emitted = join(pkg, "build", "tsc")
  const esm = join(pkg, "build", "esm")
  const cjs = join(pkg, "build", "cjs")
  // Only what changed since the last build is transformed again; outputs of removed modules go.
  const expected = new Set<string>([join(cjs, "package.json")])
  const fresh = (source: string, target: string) => existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs
  step(`babel: ${name} ESM and CommonJS`, () => {
    for (const file of walk(emitted)) {
      const rel = relative(emitted, file)
      const base = rel.split("/").pop()!
      // The command-line entry points use top-level await: they stay ES modules only.
      const esmOnly = rel.startsWith("bin/")
      if (file.endsWith(".d.ts") || file.endsWith(".d.ts.map")) {
        for (const out of esmOnly ? [esm] : [esm, cjs]) {
          const target = join(out, rel)
          expected.add(target)
          if (fresh(file, target)) continue
          mkdirSync(dirname(target), { recursive: true })
          copyFileSync(file, target)
        }
        continue
      }
      if (!file.endsWith(".js")) continue
      const targets = esmOnly ? [join(esm, rel)] : [join(esm, rel), join(cjs, rel)]
      for (const target of targets) expected.add(target).add(`${target}.map`)
      if (targets.every((target) => fresh(file, target))) continue
      const code = readFileSync(file, "utf8").replace(/^\/\/# sourceMappingURL=.*$/m, "")
      const mapFile = `${file}.map`
      const inputSourceMap = existsSync(mapFile) ? JSON.parse(readFileSync(mapFile, "utf8")) : undefined
      const emit = (outDir: string, plugins: Array<unknown>) => {
        const out = transformSync(code, {
          filename: file,
          babelrc: false,
          configFile: false,
          sourceMaps: true,
          inputSourceMap,
          plugins: plugins as never,
        })
        if (out?.code == null) throw new Error(`babel produced nothing for ${file}`)
        const target = join(outDir, rel)
        mkdirSync(dirname(target), { recursive: true })
        writeFileSync(target, `${out.code}\n//# sourceMappingURL=${base}.map\n`)
        writeFileSync(`${target}.map`, JSON.stringify({ ...out.map, file: base }))
      }
      emit(esm, [pure])
      if (!esmOnly) emit(cjs, [pure, namespaceFrom, commonjs, importMetaUrl])
    }
    writeFileSync(join(cjs, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`)
    for (const dir of [esm, cjs]) for (const file of walk(dir)) if (!expected.has(file)) rmSync(file)
  })
  // The CLI's shebang ran it from sources with tsx; the built one runs on node.
  const cli = join(esm, "bin", "cli.js")
  if (existsSync(cli)) writeFileSync(cli, readFileSync(cli, "utf8").replace(/^#!.*\n/, "#!/usr/bin/env node\n"))
}
