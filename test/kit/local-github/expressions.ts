// GitHub Actions expressions, the subset action.yml uses, evaluated as the runner does: literals, context property
// access (a.b-c, a['b']), ! == != < <= > >= && || and parentheses, and the status functions always(), success(),
// failure(), cancelled(). Anything else (other functions, unknown contexts or names) throws: a stand-in that guessed
// would hide exactly the mistakes it is there to catch.
//
// Semantics follow GitHub's documentation: == compares strings case-insensitively; operands of different types are
// compared as numbers (null -> 0, booleans -> 1/0, strings parsed, '' -> 0, objects -> NaN); && and || return an
// operand; falsy values are false, 0, -0, '', null and NaN.

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

type Token =
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "name"; value: string }
  | { kind: "op"; value: string };

const OPERATORS = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ".", ","];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= text.length) throw new ExpressionError(text, "unterminated string");
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i];
        i++;
      }
      tokens.push({ kind: "string", value });
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(text[i + 1] ?? ""))) {
      const match = /^-?[0-9]+(\.[0-9]+)?/.exec(text.slice(i))!;
      tokens.push({ kind: "number", value: Number(match[0]) });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i))!;
      tokens.push({ kind: "name", value: match[0] });
      i += match[0].length;
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (!op) throw new ExpressionError(text, `unexpected character '${c}'`);
      tokens.push({ kind: "op", value: op });
      i += op.length;
    }
  }
  return tokens;
}

type Node =
  | { type: "literal"; value: Value }
  | { type: "context"; name: string }
  | { type: "member"; object: Node; property: Node }
  | { type: "call"; name: string; args: Node[] }
  | { type: "not"; operand: Node }
  | { type: "binary"; op: string; left: Node; right: Node };

const STATUS_FUNCTIONS = ["always", "success", "failure", "cancelled"];

export function parseExpression(text: string): Node {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const isOp = (value: string) => {
    const t = peek();
    return t?.kind === "op" && t.value === value;
  };
  const expect = (value: string) => {
    if (!isOp(value)) throw new ExpressionError(text, `expected '${value}'`);
    pos++;
  };
  const binary = (ops: string[], next: () => Node) => (): Node => {
    let left = next();
    while (ops.some(isOp)) {
      const op = (tokens[pos++] as { value: string }).value;
      left = { type: "binary", op, left, right: next() };
    }
    return left;
  };
  const primary = (): Node => {
    const t = tokens[pos++];
    if (!t) throw new ExpressionError(text, "unexpected end");
    if (t.kind === "string" || t.kind === "number") return { type: "literal", value: t.value };
    if (t.kind === "op" && t.value === "(") {
      const inner = or();
      expect(")");
      return inner;
    }
    if (t.kind === "name") {
      if (t.value === "true" || t.value === "false") return { type: "literal", value: t.value === "true" };
      if (t.value === "null") return { type: "literal", value: null };
      if (isOp("(")) {
        pos++;
        const args: Node[] = [];
        while (!isOp(")")) {
          args.push(or());
          if (!isOp(")")) expect(",");
        }
        pos++;
        if (!STATUS_FUNCTIONS.includes(t.value) || args.length > 0) {
          throw new ExpressionError(text, `function ${t.value}() is not supported by this stand-in`);
        }
        return { type: "call", name: t.value, args };
      }
      return { type: "context", name: t.value };
    }
    throw new ExpressionError(text, `unexpected '${t.value}'`);
  };
  const postfix = (): Node => {
    let node = primary();
    for (;;) {
      if (isOp(".")) {
        pos++;
        const name = tokens[pos++];
        if (name?.kind !== "name") throw new ExpressionError(text, "expected a property name after '.'");
        node = { type: "member", object: node, property: { type: "literal", value: name.value } };
      } else if (isOp("[")) {
        pos++;
        const property = or();
        expect("]");
        node = { type: "member", object: node, property };
      } else {
        return node;
      }
    }
  };
  const unary = (): Node => {
    if (isOp("!")) {
      pos++;
      return { type: "not", operand: unary() };
    }
    return postfix();
  };
  const comparison = binary(["<=", ">=", "<", ">"], unary);
  const equality = binary(["==", "!="], comparison);
  const and = binary(["&&"], equality);
  const or = binary(["||"], and);
  const tree = or();
  if (pos !== tokens.length) throw new ExpressionError(text, `unexpected '${(tokens[pos] as { value: unknown }).value}'`);
  return tree;
}

/** Whether the expression calls a status function anywhere (else an `if:` gets an implicit success() &&). */
export function usesStatusFunction(node: Node): boolean {
  switch (node.type) {
    case "call":
      return true;
    case "member":
      return usesStatusFunction(node.object) || usesStatusFunction(node.property);
    case "not":
      return usesStatusFunction(node.operand);
    case "binary":
      return usesStatusFunction(node.left) || usesStatusFunction(node.right);
    default:
      return false;
  }
}

export function evaluate(text: string, ctx: ExpressionContext): Value {
  return evalNode(parseExpression(text), ctx, text);
}

function evalNode(node: Node, ctx: ExpressionContext, text: string): Value {
  switch (node.type) {
    case "literal":
      return node.value;
    case "context": {
      if (!(node.name in ctx.contexts)) throw new ExpressionError(text, `context '${node.name}' is not available to this stand-in`);
      return ctx.contexts[node.name]!;
    }
    case "member": {
      const path = memberPath(node);
      if (path) ctx.checkPath?.(path);
      const object = evalNode(node.object, ctx, text);
      const key = evalNode(node.property, ctx, text);
      if (object === null || typeof object !== "object") return null;
      if (Array.isArray(object)) return typeof key === "number" ? (object[key] ?? null) : null;
      // Property names are case-insensitive in expressions.
      const name = Object.keys(object).find((k) => k.toLowerCase() === String(key).toLowerCase());
      return name === undefined ? null : object[name]!;
    }
    case "call":
      switch (node.name) {
        case "always":
          return true;
        case "success":
          return !ctx.status.failed && !ctx.status.cancelled;
        case "failure":
          return ctx.status.failed;
        default:
          return ctx.status.cancelled;
      }
    case "not":
      return !truthy(evalNode(node.operand, ctx, text));
    case "binary": {
      const left = evalNode(node.left, ctx, text);
      if (node.op === "&&") return truthy(left) ? evalNode(node.right, ctx, text) : left;
      if (node.op === "||") return truthy(left) ? left : evalNode(node.right, ctx, text);
      const right = evalNode(node.right, ctx, text);
      return compare(node.op, left, right);
    }
  }
}

/** ["inputs", "state-id"] for inputs.state-id; undefined when a part is computed. */
function memberPath(node: Node): string[] | undefined {
  if (node.type === "context") return [node.name];
  if (node.type !== "member" || node.property.type !== "literal" || typeof node.property.value !== "string") return undefined;
  const base = memberPath(node.object);
  return base ? [...base, node.property.value] : undefined;
}

export function truthy(value: Value): boolean {
  if (value === null || value === false || value === "" || value === 0) return false;
  if (typeof value === "number" && Number.isNaN(value)) return false;
  return true;
}

function toNumber(value: Value): number {
  if (value === null) return 0;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") return value;
  if (typeof value === "string") return value.trim() === "" ? 0 : Number(value);
  return Number.NaN;
}

function compare(op: string, left: Value, right: Value): boolean {
  let a: number | string | Value;
  let b: number | string | Value;
  if (typeof left === "string" && typeof right === "string") {
    a = left.toLowerCase();
    b = right.toLowerCase();
  } else if (typeof left === typeof right && (typeof left !== "object" || left === null || right === null)) {
    a = left;
    b = right;
    if (left === null || right === null) {
      a = toNumber(left);
      b = toNumber(right);
    }
  } else if (typeof left === "object" && left !== null && typeof right === "object" && right !== null) {
    return op === "==" ? left === right : op === "!=" ? left !== right : false;
  } else {
    a = toNumber(left);
    b = toNumber(right);
  }
  switch (op) {
    case "==":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return (a as number) < (b as number);
    case "<=":
      return (a as number) <= (b as number);
    case ">":
      return (a as number) > (b as number);
    default:
      return (a as number) >= (b as number);
  }
}

/** The text form of a value where a string is needed (env, with, working-directory): null -> '', true -> 'true'. */
export function toText(value: Value): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
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
    out += toText(evaluate(text.slice(start + 3, end), ctx));
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
  const tree = parseExpression(text);
  const value = truthy(evalNode(tree, ctx, text));
  return usesStatusFunction(tree) ? value : value && !ctx.status.failed && !ctx.status.cancelled;
}
