// GitHub Actions expressions, evaluated by GitHub's own parser and evaluator (@actions/expressions, the library behind
// GitHub's Actions language services): its lexer, grammar, coercion rules (== compares strings case-insensitively,
// mixed types compare as numbers, null == ''...) and built-in functions (contains, format, fromJSON...).
// What the library leaves to the runner is here: the status functions always(), success(), failure(), cancelled();
// the implicit `success() &&` of an `if:` without one; `${{ }}` interpolation in strings; which contexts exist.
// Anything else (unknown contexts, functions such as hashFiles(), syntax errors) throws: a stand-in that guessed
// would hide exactly the mistakes it is there to catch.
import { data, Evaluator, Lexer, Parser } from "@actions/expressions";
import { ContextAccess, type Expr, FunctionCall, IndexAccess, Literal } from "@actions/expressions/ast";
import type { FunctionDefinition } from "@actions/expressions/funcs/info";
import { truthy } from "@actions/expressions/result";

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export class ExpressionError extends Error {
  constructor(expression: string, why: string) {
    super(`expression \`${expression}\`: ${why}`);
    this.name = "ExpressionError";
  }
}

export interface ExpressionContext {
  /** Context name -> value, e.g. { inputs: {...}, steps: {...} }. A name not here is an error. */
  contexts: Record<string, Value>;
  /** Checks a property path the expression reads (e.g. ["inputs", "state-id"]); throws to refuse it. */
  checkPath?: (path: string[]) => void;
  status: { failed: boolean; cancelled: boolean };
}

const STATUS_FUNCTIONS = ["always", "success", "failure", "cancelled"];

/** Parses `text`; status functions only where `conditional` (GitHub allows them in `if:` alone). */
function parse(text: string, ctx: ExpressionContext, conditional: boolean): Expr {
  try {
    const functions = conditional ? STATUS_FUNCTIONS.map((name) => ({ name, minArgs: 0, maxArgs: 0 })) : [];
    return new Parser(new Lexer(text).lex().tokens, Object.keys(ctx.contexts), functions).parse();
  } catch (error) {
    throw new ExpressionError(text, (error as Error).message);
  }
}

/** Calls `visit` on every node of the tree (the library's AST has no walker of its own). */
function walk(node: Expr, visit: (node: Expr) => void): void {
  visit(node);
  const n = node as Partial<{ expr: Expr; group: Expr; left: Expr; right: Expr; index: Expr; args: Expr[] }>;
  for (const child of [n.expr, n.group, n.left, n.right, n.index, ...(n.args ?? [])]) if (child) walk(child, visit);
}

/** ["inputs", "state-id"] for inputs.state-id or inputs['state-id']; undefined when a part is computed. */
function staticPath(node: Expr): string[] | undefined {
  if (node instanceof ContextAccess) return [node.name.lexeme.toLowerCase()]; // context names ignore case
  if (
    !(node instanceof IndexAccess) ||
    !(node.index instanceof Literal) ||
    node.index.literal.kind !== data.Kind.String
  )
    return undefined;
  const base = staticPath(node.expr);
  return base ? [...base, node.index.literal.coerceString()] : undefined;
}

function run(tree: Expr, text: string, ctx: ExpressionContext): data.ExpressionData {
  walk(tree, (node) => {
    const path = staticPath(node);
    if (path) ctx.checkPath?.(path);
  });
  const { failed, cancelled } = ctx.status;
  const results: Record<string, boolean> = { always: true, success: !failed && !cancelled, failure: failed, cancelled };
  const functions = new Map<string, FunctionDefinition>(
    STATUS_FUNCTIONS.map((name) => [
      name,
      { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(results[name]!) },
    ]),
  );
  const contexts = JSON.parse(JSON.stringify(ctx.contexts), data.reviver) as data.Dictionary;
  try {
    return new Evaluator(tree, contexts, functions).evaluate();
  } catch (error) {
    throw new ExpressionError(text, (error as Error).message);
  }
}

export function evaluate(text: string, ctx: ExpressionContext): Value {
  return JSON.parse(JSON.stringify(run(parse(text, ctx, false), text, ctx), data.replacer)) as Value;
}

/** The text form of a value where a string is needed (env, with, working-directory): null -> '', true -> 'true'. */
function toText(value: data.ExpressionData): string {
  return value.primitive ? value.coerceString() : JSON.stringify(value, data.replacer);
}

/** Replaces every ${{ expr }} in `text`. */
export function interpolate(text: string, ctx: ExpressionContext): string {
  let out = "";
  let i = 0;
  for (;;) {
    const start = text.indexOf("${{", i);
    if (start < 0) return out + text.slice(i);
    out += text.slice(i, start);
    const end = closing(text, start + 3);
    const expression = text.slice(start + 3, end);
    out += toText(run(parse(expression, ctx, false), expression, ctx));
    i = end + 2;
  }
}

/** The index of the `}}` that closes an expression starting at `from`, skipping string literals. */
function closing(text: string, from: number): number {
  let inString = false;
  for (let i = from; i < text.length - 1; i++) {
    if (text[i] === "'") inString = !inString;
    else if (!inString && text[i] === "}" && text[i + 1] === "}") return i;
  }
  throw new ExpressionError(text, "no closing }}");
}

/** An `if:` condition as the runner reads it: ${{ }} optional, implicit success() && unless a status function is used. */
export function evaluateCondition(condition: string | boolean | undefined, ctx: ExpressionContext): boolean {
  if (condition === undefined) return !ctx.status.failed && !ctx.status.cancelled;
  if (typeof condition === "boolean") return condition && !ctx.status.failed;
  let text = condition.trim();
  const wrapped = /^\$\{\{([\s\S]*)\}\}$/.exec(text);
  if (wrapped) text = wrapped[1]!;
  const tree = parse(text, ctx, true);
  let usesStatus = false;
  walk(tree, (node) => {
    if (node instanceof FunctionCall && STATUS_FUNCTIONS.includes(node.functionName.lexeme.toLowerCase()))
      usesStatus = true;
  });
  const value = truthy(run(tree, text, ctx));
  return usesStatus ? value : value && !ctx.status.failed && !ctx.status.cancelled;
}
