//===- MaterializeABI.cpp - the CPU entry ABI of a model ------------------===//
//
// seq-cpu-abi: weights by reference (seq.weight through the module's
// seq.weights table) become views of the mapped weight file, passed as one
// memref<?xi8> to every function that reads weights; shared layer functions
// take the byte offset of their layer's first weight where they took the
// layer; public functions become C-interface entries. Everything is checked
// before anything changes, so a bad reference leaves the module as it was.
//
//===----------------------------------------------------------------------===//

#include "passes/Codegen/CPU/Passes.h"

#include "dialects/Seq/IR/SeqOps.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

#include <map>

namespace mlir::seq {
#define GEN_PASS_DEF_SEQCPUABIPASS
#include "passes/Codegen/CPU/Passes.h.inc"
} // namespace mlir::seq

using namespace mlir;

namespace {

/// Where one seq.weight reads: a constant byte offset, or `offset` past a
/// layer argument's byte offset.
struct Resolved {
  seq::WeightOp op;
  uint64_t offset = 0;
  /// The function argument (before the weights argument is added) holding
  /// the layer, when the name is relative to one.
  std::optional<unsigned> layerArg;
};

class ABIMaterializer {
public:
  ABIMaterializer(ModuleOp module, bool cInterface)
      : module(module), ctx(module.getContext()), cInterface(cInterface) {}

  LogicalResult run() {
    SmallVector<seq::WeightOp> refs;
    module.walk([&](seq::WeightOp op) { refs.push_back(op); });
    if (!refs.empty()) {
      table = seq::WeightTableAttr::getFrom(module);
      if (!table)
        return refs.front().emitOpError()
               << "has no weight table to resolve through: the module needs "
                  "a '"
               << seq::WeightTableAttr::kAttrName << "' attribute";
      for (NamedAttribute e : table.getEntries())
        if (std::optional<int64_t> l = table.layerOf(e.getName().strref())) {
          auto entry = cast<seq::WeightEntryAttr>(e.getValue());
          auto [it, inserted] = layerStart.try_emplace(*l, entry.getOffset());
          if (!inserted)
            it->second = std::min(it->second, entry.getOffset());
        }
    }
    if (failed(findWeightedFunctions(refs)) || failed(findLayers()))
      return failure();
    SmallVector<Resolved> resolved;
    for (seq::WeightOp op : refs) {
      FailureOr<Resolved> r = resolve(op);
      if (failed(r))
        return failure();
      resolved.push_back(*r);
    }
    // Checked: now change the module.
    materialize(resolved);
    module->removeAttr(seq::WeightTableAttr::kAttrName);
    for (auto fn : module.getOps<func::FuncOp>())
      if (cInterface && fn.isPublic() && !fn.isExternal())
        fn->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    return success();
  }

private:
  ModuleOp module;
  MLIRContext *ctx;
  bool cInterface;
  seq::WeightTableAttr table;
  /// The byte offset of each layer's first weight.
  std::map<int64_t, uint64_t> layerStart;
  /// Functions that read weights or call one that does.
  llvm::SetVector<func::FuncOp> weighted;
  /// The calls of each function in the module.
  llvm::MapVector<func::FuncOp, SmallVector<func::CallOp>> callsTo;
  /// Per function: its layer arguments and the layers its callers give.
  DenseMap<func::FuncOp, std::map<unsigned, SmallVector<int64_t>>> layerArgs;

  static std::optional<int64_t> constantIndex(Value v) {
    APInt value;
    if (!matchPattern(v, m_ConstantInt(&value)))
      return std::nullopt;
    return value.getSExtValue();
  }

  /// The functions holding references, their layer arguments, then every
  /// caller of a weighted function.
  LogicalResult findWeightedFunctions(ArrayRef<seq::WeightOp> refs) {
    for (seq::WeightOp op : refs) {
      auto fn = op->getParentOfType<func::FuncOp>();
      if (!fn)
        return op.emitOpError("must be inside a func.func");
      weighted.insert(fn);
      Value layer = op.getLayer();
      if (!layer || constantIndex(layer))
        continue;
      auto arg = dyn_cast<BlockArgument>(layer);
      if (!arg || arg.getOwner() != &fn.getBody().front())
        return op.emitOpError("layer must be a constant or an argument of "
                              "the enclosing function");
      layerArgs[fn][arg.getArgNumber()];
    }
    module.walk([&](func::CallOp call) {
      if (auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
              call, call.getCalleeAttr()))
        callsTo[callee].push_back(call);
    });
    // Callers of weighted functions read weights too (through them).
    for (size_t i = 0; i < weighted.size(); ++i)
      for (func::CallOp call : callsTo.lookup(weighted[i]))
        weighted.insert(call->getParentOfType<func::FuncOp>());
    return success();
  }

  /// The constant layers each layer argument is called with.
  LogicalResult findLayers() {
    for (auto &[fn, args] : layerArgs) {
      if (fn.isPublic())
        return fn.emitOpError("names weights relative to a layer argument, so "
                              "it must be private (its callers give the "
                              "layer)");
      std::optional<SymbolTable::UseRange> uses =
          SymbolTable::getSymbolUses(fn, module);
      for (const SymbolTable::SymbolUse &use :
           uses ? *uses : SymbolTable::UseRange({}))
        if (!isa<func::CallOp>(use.getUser()))
          return use.getUser()->emitOpError()
                 << "refers to @" << fn.getSymName()
                 << ", whose weights are relative to a layer argument; only "
                    "calls may";
      for (auto &[index, layers] : args) {
        for (Operation *user : fn.getArgument(index).getUsers())
          if (!isa<seq::WeightOp>(user))
            return user->emitOpError()
                   << "uses layer argument #" << index << " of @"
                   << fn.getSymName()
                   << ", which seq-cpu-abi turns into a byte offset; only "
                      "seq.weight may use it";
        for (func::CallOp call : callsTo.lookup(fn)) {
          std::optional<int64_t> l = constantIndex(call.getOperand(index));
          if (!l)
            return call.emitOpError()
                   << "gives layer argument #" << index << " of @"
                   << fn.getSymName() << " a layer that is not a constant";
          layers.push_back(*l);
        }
        if (layers.empty())
          return fn.emitOpError()
                 << "names weights relative to layer argument #" << index
                 << " but is never called, so no layer resolves them";
      }
    }
    return success();
  }

  /// The table entry `name` if it has `type`, else an error at `op`.
  FailureOr<seq::WeightEntryAttr> lookup(seq::WeightOp op, StringRef name) {
    seq::WeightEntryAttr entry = table.lookup(name);
    if (!entry)
      return op.emitOpError() << "refers to '" << name
                              << "', which the weight table does not have";
    if (entry.getType() != op.getType())
      return op.emitOpError()
             << "is " << op.getType() << " but the weight table's '" << name
             << "' is " << entry.getType();
    return entry;
  }

  FailureOr<Resolved> resolve(seq::WeightOp op) {
    Resolved r;
    r.op = op;
    Value layer = op.getLayer();
    if (!layer) {
      FailureOr<seq::WeightEntryAttr> e = lookup(op, op.getName());
      if (failed(e))
        return failure();
      r.offset = e->getOffset();
      return r;
    }
    if (std::optional<int64_t> l = constantIndex(layer)) {
      FailureOr<seq::WeightEntryAttr> e =
          lookup(op, table.layerName(*l, op.getName()));
      if (failed(e))
        return failure();
      r.offset = e->getOffset();
      return r;
    }
    auto fn = op->getParentOfType<func::FuncOp>();
    unsigned index = cast<BlockArgument>(layer).getArgNumber();
    r.layerArg = index;
    std::optional<int64_t> first;
    for (int64_t l : layerArgs[fn][index]) {
      FailureOr<seq::WeightEntryAttr> e =
          lookup(op, table.layerName(l, op.getName()));
      if (failed(e))
        return failure();
      auto start = layerStart.find(l);
      if (start == layerStart.end())
        return op.emitOpError() << "is called with layer " << l
                                << ", which is not a layer of the weight "
                                   "table";
      uint64_t rel = e->getOffset() - start->second;
      if (!first) {
        first = l;
        r.offset = rel;
      } else if (rel != r.offset) {
        return op.emitOpError() << "'" << op.getName() << "' lies " << r.offset
                                << " bytes into layer " << *first << " but "
                                << rel << " bytes into layer " << l
                                << ": one function cannot serve both layers";
      }
    }
    return r;
  }

  void materialize(ArrayRef<Resolved> resolved) {
    auto bytes =
        MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
    for (func::FuncOp fn : weighted)
      (void)fn.insertArgument(0, bytes, DictionaryAttr(), fn.getLoc());
    OpBuilder b(ctx);
    for (Resolved r : resolved) {
      auto fn = r.op->getParentOfType<func::FuncOp>();
      Location loc = r.op.getLoc();
      b.setInsertionPoint(r.op);
      Value offset = arith::ConstantIndexOp::create(b, loc, r.offset);
      if (r.layerArg)
        offset = arith::AddIOp::create(b, loc, fn.getArgument(*r.layerArg + 1),
                                       offset);
      auto type = r.op.getType();
      Value view = memref::ViewOp::create(
          b, loc, MemRefType::get(type.getShape(), type.getElementType()),
          fn.getArgument(0), offset, ValueRange{});
      Value t = bufferization::ToTensorOp::create(b, loc, type, view,
                                                  /*restrict=*/true);
      r.op.replaceAllUsesWith(t);
      r.op.erase();
    }
    for (func::FuncOp callee : weighted) {
      auto args = layerArgs.find(callee);
      for (func::CallOp call : callsTo.lookup(callee)) {
        auto caller = call->getParentOfType<func::FuncOp>();
        b.setInsertionPoint(call);
        if (args != layerArgs.end())
          for (auto &[index, layers] : args->second) {
            int64_t l = *constantIndex(call.getOperand(index));
            call->setOperand(index, arith::ConstantIndexOp::create(
                                        b, call.getLoc(), layerStart.at(l)));
          }
        call->insertOperands(0, caller.getArgument(0));
      }
    }
  }
};

struct SeqCPUABIPass : public seq::impl::SeqCPUABIPassBase<SeqCPUABIPass> {
  using Base::Base;
  void runOnOperation() override {
    if (failed(ABIMaterializer(getOperation(), cInterface).run()))
      signalPassFailure();
  }
};

} // namespace
