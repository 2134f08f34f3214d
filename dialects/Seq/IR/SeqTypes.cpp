//===- SeqTypes.cpp - seq dialect types -----------------------------------===//

#include "dialects/Seq/IR/SeqTypes.h"
#include "dialects/Seq/IR/SeqDialect.h"
#include "dialects/Seq/IR/SeqKVLayout.h"
#include "seqc/Support/Hadamard.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::seq;

#define GET_TYPEDEF_CLASSES
#include "dialects/Seq/IR/SeqTypes.cpp.inc"

void SeqDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/Seq/IR/SeqTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// KVCacheType
//===----------------------------------------------------------------------===//

KVCacheType KVCacheType::get(int64_t heads, int64_t headDim, int64_t capacity,
                             Type elementType) {
  return Base::get(elementType.getContext(), heads, headDim, capacity,
                   elementType, QuantEncodingAttr(), QuantEncodingAttr(), 0, 0,
                   EvictPolicyAttr(), 0, KeyFormAttr());
}

KVCacheType KVCacheType::withKeyForm(KeyFormAttr keyForm) const {
  return Base::get(getContext(), getHeads(), getHeadDim(), getCapacity(),
                   getElementType(), getKeyEncoding(), getValueEncoding(),
                   getSinks(), getWindow(), getEvict(), getBudget(), keyForm);
}

/// What a key form asks of the cache that stores it (the form's own rules
/// are KeyFormAttr::verify's).
static LogicalResult verifyKeyForm(function_ref<InFlightDiagnostic()> emitError,
                                   KeyFormAttr form, int64_t heads,
                                   int64_t headDim, bool scored,
                                   bool keepsPositions) {
  if (!form)
    return success();
  if (scored)
    return emitError() << "a KV cache whose keys are stored in another form "
                          "(key_form) keeps its tokens by position, not by "
                          "attention (no evict)";
  if ((form.hasRope() || form.isLatent()) && !keepsPositions)
    return emitError() << "a KV cache of keys before RoPE or of latents "
                          "(key_form) keeps every token at its position; "
                          "this one evicts by window";
  if (form.isLatent() && heads != 1)
    return emitError() << "a latent KV cache has one head, this one has "
                       << heads;
  if (int64_t g = form.getRotationHeads()) {
    if (heads % g != 0)
      return emitError() << "key form rotation_heads (" << g
                         << ") must divide the cache's KV heads (" << heads
                         << ")";
    if (!seqc::factorizeHadamardOrder(g * headDim))
      return emitError() << "key form rotation_heads " << g << " x head_dim "
                         << headDim << ": no Hadamard matrix of order "
                         << g * headDim << "; supported orders are "
                         << seqc::describeSupportedHadamardOrders();
  }
  // A latent's channels are not a head's: the attention checks its RoPE
  // against the query's head_dim.
  if (form.hasRope() && !form.isLatent() &&
      (headDim % 2 != 0 || form.getRotaryDimOr(headDim) > headDim))
    return emitError() << "key form rotary_dim must be even and at most "
                          "head_dim ("
                       << headDim << ") with an even head_dim, got "
                       << form.getRotaryDimOr(headDim);
  return success();
}

static LogicalResult
verifyCacheEncoding(function_ref<InFlightDiagnostic()> emitError,
                    StringRef which, QuantEncodingAttr enc, int64_t headDim,
                    int64_t window) {
  if (!enc)
    return success();
  if (enc.getAxis() > 1)
    return emitError() << which
                       << " encoding axis must be 0 (groups of tokens) or 1 "
                          "(groups of channels), got "
                       << enc.getAxis();
  if (enc.getAxis() == 1 && headDim % enc.getGroup() != 0)
    return emitError() << which << " encoding group size " << enc.getGroup()
                       << " does not divide head_dim " << headDim;
  if (enc.getAxis() == 0 && (window <= 0 || window % enc.getGroup() != 0))
    return emitError() << which << " encoding groups " << enc.getGroup()
                       << " tokens, so the residual window must be a positive "
                          "multiple of "
                       << enc.getGroup() << ", got " << window;
  return success();
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t heads, int64_t headDim,
                                  int64_t capacity, Type elementType,
                                  QuantEncodingAttr keyEncoding,
                                  QuantEncodingAttr valueEncoding,
                                  int64_t sinks, int64_t window,
                                  EvictPolicyAttr evict, int64_t budget,
                                  KeyFormAttr keyForm) {
  if (heads <= 0 || headDim <= 0 || capacity <= 0)
    return emitError() << "KV cache heads, head_dim and capacity must be "
                          "positive, got "
                       << heads << "x" << headDim << "x" << capacity;
  if (!elementType ||
      !(elementType.isF16() || elementType.isBF16() || elementType.isF32()))
    return emitError() << "KV cache element type must be f16, bf16 or f32, got "
                       << elementType;
  if (sinks < 0 || window < 0)
    return emitError() << "KV cache sinks and window must be non-negative, got "
                       << sinks << " and " << window;
  if (sinks > capacity)
    return emitError() << "KV cache sink tokens (" << sinks
                       << ") exceed its capacity (" << capacity << ")";
  bool compressed = keyEncoding || valueEncoding;
  if (failed(verifyKeyForm(emitError, keyForm, heads, headDim, bool(evict),
                           !evict && (window == 0 || compressed))))
    return failure();
  auto verifyEncodings = [&]() -> LogicalResult {
    if (failed(verifyCacheEncoding(emitError, "key", keyEncoding, headDim,
                                   window)) ||
        failed(verifyCacheEncoding(emitError, "value", valueEncoding, headDim,
                                   window)))
      return failure();
    return success();
  };
  if (evict) {
    if (evict.getValue() == EvictPolicy::Window)
      return emitError() << "KV cache eviction by window is written `window = "
                            "N` without encodings, not `evict = window`";
    if (budget <= sinks + window || budget >= capacity)
      return emitError() << "KV cache budget (" << budget
                         << ") must exceed its sink tokens (" << sinks
                         << ") plus recent window (" << window
                         << ") and be below its capacity (" << capacity << ")";
    for (QuantEncodingAttr enc : {keyEncoding, valueEncoding})
      if (enc && enc.getAxis() != 1)
        return emitError()
               << "a mixed-precision KV cache ("
               << stringifyEvictPolicy(evict.getValue())
               << " with encodings) quantizes tokens one at a time, so its "
                  "encodings must group channels (axis = 1), got axis "
               << enc.getAxis();
    if (compressed && !(keyEncoding && valueEncoding))
      return emitError() << "a mixed-precision KV cache quantizes both keys "
                            "and values, or neither";
    return verifyEncodings();
  }
  if (budget != 0)
    return emitError() << "KV cache budget (" << budget
                       << ") needs an eviction policy (evict = h2o or roco)";
  if (!compressed && window > 0 && sinks + window > capacity)
    return emitError() << "KV cache sink tokens (" << sinks
                       << ") and eviction window (" << window
                       << ") exceed its capacity (" << capacity << ")";
  if (compressed && sinks + window >= capacity)
    return emitError() << "KV cache sink tokens (" << sinks
                       << ") and residual window (" << window
                       << ") leave no room for quantized tokens in capacity "
                       << capacity;
  return verifyEncodings();
}

// The byte accounting is the storage layout's (seqc/Support/KVLayout.h).
int64_t KVCacheType::getBytesPerFullToken() const {
  return seqc::kvBytesPerFullToken(getKVCacheDesc(*this));
}

double KVCacheType::getBytesPerQuantizedToken() const {
  return seqc::kvBytesPerQuantizedToken(getKVCacheDesc(*this));
}

// !seq.kv_cache<HxDxCxT[, keys = #seq.quant<..>][, values = #seq.quant<..>]
//               [, sinks = N][, window = N][, evict = P, budget = N]
//               [, key_form = #seq.key_form<..>]>
Type KVCacheType::parse(AsmParser &parser) {
  SmallVector<int64_t, 3> dims;
  Type elementType;
  SMLoc dimsLoc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(dims, /*allowDynamic=*/false,
                                /*withTrailingX=*/true) ||
      parser.parseType(elementType))
    return {};
  if (dims.size() != 3) {
    parser.emitError(dimsLoc, "expected heads x head_dim x capacity, got ")
        << dims.size() << " dimensions";
    return {};
  }
  QuantEncodingAttr keys, values;
  EvictPolicyAttr evict;
  KeyFormAttr keyForm;
  int64_t sinks = 0, window = 0, budget = 0;
  llvm::StringSet<> seen;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    if (!seen.insert(key).second) {
      parser.emitError(keyLoc, "duplicate KV cache parameter '") << key << "'";
      return {};
    }
    if (key == "keys" || key == "values") {
      Attribute attr;
      SMLoc attrLoc = parser.getCurrentLocation();
      if (parser.parseAttribute(attr))
        return {};
      auto enc = dyn_cast<QuantEncodingAttr>(attr);
      if (!enc) {
        parser.emitError(attrLoc, "expected a #seq.quant encoding, got ")
            << attr;
        return {};
      }
      (key == "keys" ? keys : values) = enc;
    } else if (key == "sinks" || key == "window" || key == "budget") {
      if (parser.parseInteger(key == "sinks"    ? sinks
                              : key == "window" ? window
                                                : budget))
        return {};
    } else if (key == "evict") {
      SMLoc policyLoc = parser.getCurrentLocation();
      StringRef name;
      if (parser.parseKeyword(&name))
        return {};
      std::optional<EvictPolicy> policy = symbolizeEvictPolicy(name);
      if (!policy) {
        parser.emitError(policyLoc, "unknown eviction policy '")
            << name << "' (expected h2o or roco)";
        return {};
      }
      evict = EvictPolicyAttr::get(parser.getContext(), *policy);
    } else if (key == "key_form") {
      Attribute attr;
      SMLoc attrLoc = parser.getCurrentLocation();
      if (parser.parseAttribute(attr))
        return {};
      keyForm = dyn_cast<KeyFormAttr>(attr);
      if (!keyForm) {
        parser.emitError(attrLoc, "expected a #seq.key_form, got ") << attr;
        return {};
      }
    } else {
      parser.emitError(keyLoc, "unknown KV cache parameter '")
          << key
          << "' (expected keys, values, sinks, window, evict, budget or "
             "key_form)";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<KVCacheType>(parser.getContext(), dims[0], dims[1],
                                        dims[2], elementType, keys, values,
                                        sinks, window, evict, budget, keyForm);
}

void KVCacheType::print(AsmPrinter &printer) const {
  printer << "<" << getHeads() << "x" << getHeadDim() << "x" << getCapacity()
          << "x" << getElementType();
  if (getKeyEncoding())
    printer << ", keys = " << getKeyEncoding();
  if (getValueEncoding())
    printer << ", values = " << getValueEncoding();
  if (getSinks())
    printer << ", sinks = " << getSinks();
  if (getWindow())
    printer << ", window = " << getWindow();
  if (getEvict())
    printer << ", evict = " << stringifyEvictPolicy(getEvict().getValue())
            << ", budget = " << getBudget();
  if (getKeyForm())
    printer << ", key_form = " << getKeyForm();
  printer << ">";
}
