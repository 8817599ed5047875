// An asc transform (asc --transform): every `memory.grow` in the module
// (AssemblyScript's allocator is the only user) becomes a call of the host
// function xen.hypercall with the host operation HOSTOP_MEMORY_GROW, so that
// memory growth is a host service in both hosts: the native runtime and the
// sim grow the memory up to the guest's RAM, and when a request fails they
// know its size and can report out of memory as "out of memory: <n> bytes
// requested, heap <used> KiB of <max> KiB" (tools/host-interface.ts). It
// runs before asc validates, optimises and writes names and the source map,
// so those describe the module as it is.
//
// The operation number must match tools/host-interface.ts and
// runtime/native/kernel.h (checked by tests/host-interface.test.ts).
export const HOSTOP_MEMORY_GROW = -1;

export default class MemoryGrowThroughHost {
  afterCompile(module) {
    const b = this.binaryen;
    let hypercall = null;
    for (let i = 0; i < module.getNumFunctions(); i++) {
      const f = b.getFunctionInfo(module.getFunctionByIndex(i));
      if (f.module === "xen" && f.base === "hypercall") hypercall = f.name;
    }
    if (hypercall === null) return; // the module never calls the host: nothing grows through it either
    const grow = (delta) => module.i32.wrap(module.call(hypercall, [
      module.i32.const(HOSTOP_MEMORY_GROW), module.i64.extend_u(delta),
      module.i64.const(0n), module.i64.const(0n), module.i64.const(0n), module.i64.const(0n),
    ], b.i64));
    for (let i = 0; i < module.getNumFunctions(); i++) {
      const fn = module.getFunctionByIndex(i);
      const info = b.getFunctionInfo(fn);
      if (info.module || !info.body) continue;
      const body = rewrite(b, info.body, grow, info.name);
      if (body !== info.body) b._BinaryenFunctionSetBody(fn, body);
    }
  }
}

// Returns `expr` with every memory.grow below it replaced (the same
// expression, changed in place, unless it is itself a memory.grow).
function rewrite(b, expr, grow, where) {
  if (!expr) return expr;
  const id = b.getExpressionId(expr);
  if (id === b.MemoryGrowId) return grow(rewrite(b, b.getExpressionInfo(expr).delta, grow, where));
  const swap = (get, set) => {
    const child = get(expr);
    const next = rewrite(b, child, grow, where);
    if (next !== child) set(expr, next);
  };
  const list = (count, get, set) => {
    for (let k = 0; k < count(expr); k++) swap((e) => get(e, k), (e, v) => set(e, k, v));
  };
  switch (id) {
    case b.BlockId: return list(b._BinaryenBlockGetNumChildren, b._BinaryenBlockGetChildAt, b._BinaryenBlockSetChildAt), expr;
    case b.IfId:
      swap(b._BinaryenIfGetCondition, b._BinaryenIfSetCondition);
      swap(b._BinaryenIfGetIfTrue, b._BinaryenIfSetIfTrue);
      swap(b._BinaryenIfGetIfFalse, b._BinaryenIfSetIfFalse);
      return expr;
    case b.LoopId: return swap(b._BinaryenLoopGetBody, b._BinaryenLoopSetBody), expr;
    case b.BreakId:
      swap(b._BinaryenBreakGetCondition, b._BinaryenBreakSetCondition);
      swap(b._BinaryenBreakGetValue, b._BinaryenBreakSetValue);
      return expr;
    case b.SwitchId:
      swap(b._BinaryenSwitchGetCondition, b._BinaryenSwitchSetCondition);
      swap(b._BinaryenSwitchGetValue, b._BinaryenSwitchSetValue);
      return expr;
    case b.CallId: return list(b._BinaryenCallGetNumOperands, b._BinaryenCallGetOperandAt, b._BinaryenCallSetOperandAt), expr;
    case b.CallIndirectId:
      swap(b._BinaryenCallIndirectGetTarget, b._BinaryenCallIndirectSetTarget);
      return list(b._BinaryenCallIndirectGetNumOperands, b._BinaryenCallIndirectGetOperandAt, b._BinaryenCallIndirectSetOperandAt), expr;
    case b.LocalSetId: return swap(b._BinaryenLocalSetGetValue, b._BinaryenLocalSetSetValue), expr;
    case b.GlobalSetId: return swap(b._BinaryenGlobalSetGetValue, b._BinaryenGlobalSetSetValue), expr;
    case b.LoadId: return swap(b._BinaryenLoadGetPtr, b._BinaryenLoadSetPtr), expr;
    case b.StoreId:
      swap(b._BinaryenStoreGetPtr, b._BinaryenStoreSetPtr);
      swap(b._BinaryenStoreGetValue, b._BinaryenStoreSetValue);
      return expr;
    case b.UnaryId: return swap(b._BinaryenUnaryGetValue, b._BinaryenUnarySetValue), expr;
    case b.BinaryId:
      swap(b._BinaryenBinaryGetLeft, b._BinaryenBinarySetLeft);
      swap(b._BinaryenBinaryGetRight, b._BinaryenBinarySetRight);
      return expr;
    case b.SelectId:
      swap(b._BinaryenSelectGetIfTrue, b._BinaryenSelectSetIfTrue);
      swap(b._BinaryenSelectGetIfFalse, b._BinaryenSelectSetIfFalse);
      swap(b._BinaryenSelectGetCondition, b._BinaryenSelectSetCondition);
      return expr;
    case b.DropId: return swap(b._BinaryenDropGetValue, b._BinaryenDropSetValue), expr;
    case b.ReturnId: return swap(b._BinaryenReturnGetValue, b._BinaryenReturnSetValue), expr;
    case b.MemoryFillId:
      swap(b._BinaryenMemoryFillGetDest, b._BinaryenMemoryFillSetDest);
      swap(b._BinaryenMemoryFillGetValue, b._BinaryenMemoryFillSetValue);
      swap(b._BinaryenMemoryFillGetSize, b._BinaryenMemoryFillSetSize);
      return expr;
    case b.MemoryCopyId:
      swap(b._BinaryenMemoryCopyGetDest, b._BinaryenMemoryCopySetDest);
      swap(b._BinaryenMemoryCopyGetSource, b._BinaryenMemoryCopySetSource);
      swap(b._BinaryenMemoryCopyGetSize, b._BinaryenMemoryCopySetSize);
      return expr;
    case b.LocalGetId: case b.GlobalGetId: case b.ConstId: case b.NopId: case b.UnreachableId: case b.MemorySizeId:
      return expr;
    default:
      // An expression kind this walk does not know: a memory.grow below it
      // would escape the host. Refuse to build rather than miss one.
      if (b.emitText(expr).includes("memory.grow")) {
        throw new Error(`memory-grow-transform: memory.grow inside an expression of kind ${id} in ${where}`);
      }
      return expr;
  }
}
