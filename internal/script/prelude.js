// Runs once per sandbox, before any script, with the pristine built-ins.
// It finds the intrinsics that a property walk from globalThis does not
// reach and returns the hardening walk; sandbox.go does the rest in Go.
(function () {
  "use strict";
  const getProto = Object.getPrototypeOf;
  const ownKeys = Reflect.ownKeys;
  const getDesc = Object.getOwnPropertyDescriptor;
  const freeze = Object.freeze;

  const GeneratorFunctionPrototype = getProto(function* () {});
  const AsyncFunctionPrototype = getProto(async function () {});
  const TypedArray = getProto(Int8Array);
  const ThrowTypeError = getDesc((function () { return arguments; })(), "callee").get;

  // Objects a script can reach without naming them on globalThis.
  const hidden = [
    GeneratorFunctionPrototype,
    GeneratorFunctionPrototype.prototype, // %GeneratorPrototype%
    AsyncFunctionPrototype,
    getProto([][Symbol.iterator]()), // %ArrayIteratorPrototype%
    getProto(getProto([][Symbol.iterator]())), // %IteratorPrototype%
    getProto(new Map()[Symbol.iterator]()),
    getProto(new Set()[Symbol.iterator]()),
    getProto(""[Symbol.iterator]()),
    getProto(/a/[Symbol.matchAll]("")), // %RegExpStringIteratorPrototype%
    TypedArray,
    ThrowTypeError,
  ].filter((o) => o !== undefined && o !== null);

  // Prototypes whose common data properties get override-safe accessors.
  const prototypes = [
    Object.prototype, Function.prototype, Array.prototype, String.prototype,
    Number.prototype, Boolean.prototype, Symbol.prototype, Date.prototype,
    RegExp.prototype, Map.prototype, Set.prototype, WeakMap.prototype,
    WeakSet.prototype, Promise.prototype, ArrayBuffer.prototype,
    DataView.prototype, TypedArray.prototype,
    Error.prototype, TypeError.prototype, RangeError.prototype,
    ReferenceError.prototype, SyntaxError.prototype, EvalError.prototype,
    URIError.prototype, AggregateError.prototype,
    Int8Array.prototype, Uint8Array.prototype, Uint8ClampedArray.prototype,
    Int16Array.prototype, Uint16Array.prototype, Int32Array.prototype,
    Uint32Array.prototype, Float32Array.prototype, Float64Array.prototype,
  ].concat(hidden.filter((o) => typeof o === "object"));

  // Freeze everything reachable from roots: own properties (data values,
  // getters and setters, string and symbol keys) and prototypes.
  function harden(roots) {
    const seen = new Set();
    const todo = [];
    const visit = (v) => {
      if ((typeof v === "object" && v !== null) || typeof v === "function") {
        if (!seen.has(v)) {
          seen.add(v);
          todo.push(v);
        }
      }
    };
    for (let i = 0; i < roots.length; i++) visit(roots[i]);
    while (todo.length > 0) {
      const o = todo.pop();
      freeze(o);
      visit(getProto(o));
      const keys = ownKeys(o);
      for (let i = 0; i < keys.length; i++) {
        const d = getDesc(o, keys[i]);
        if (d === undefined) continue;
        if ("value" in d) visit(d.value);
        else {
          visit(d.get);
          visit(d.set);
        }
      }
    }
    return seen.size;
  }

  // Make `to` stand in for the constructor `from`: same static members.
  function copyStatics(from, to) {
    const keys = ownKeys(from);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== "length" && k !== "name" && k !== "prototype") {
        Object.defineProperty(to, k, getDesc(from, k));
      }
    }
  }

  return {
    copyStatics,
    intrinsics: {
      GeneratorFunctionPrototype,
      AsyncFunctionPrototype,
      TypedArray,
      hidden,
      prototypes,
    },
    harden,
  };
})
