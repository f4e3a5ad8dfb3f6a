#pragma once
/// \file config.hpp
/// Library-wide configuration: version macros, the versioned inline namespace and feature
/// detection. Includes nothing, so every header can start with it at no cost.

#define BULKHEAD_VERSION_MAJOR 0
#define BULKHEAD_VERSION_MINOR 1
#define BULKHEAD_VERSION_PATCH 0
#define BULKHEAD_VERSION_STRING "0.1.0"

// Everything lives in bulkhead::v0 so two vendored copies of different major versions cannot
// silently mix their definitions in one program (the mangled names differ).
#define BULKHEAD_ABI_NAMESPACE v0
#define BULKHEAD_NAMESPACE_BEGIN                                                               \
    namespace bulkhead {                                                                       \
    inline namespace BULKHEAD_ABI_NAMESPACE {
#define BULKHEAD_NAMESPACE_END                                                                 \
    }                                                                                          \
    }

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define BULKHEAD_HAS_EXCEPTIONS 1
#else
#define BULKHEAD_HAS_EXCEPTIONS 0
#endif

#if !defined(__linux__)
#error "bulkhead targets Linux only"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define BULKHEAD_LIKELY(x) __builtin_expect(!!(x), 1)
#define BULKHEAD_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BULKHEAD_NOINLINE __attribute__((noinline))
#define BULKHEAD_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define BULKHEAD_LIKELY(x) (x)
#define BULKHEAD_UNLIKELY(x) (x)
#define BULKHEAD_NOINLINE
#define BULKHEAD_ALWAYS_INLINE inline
#endif

#define BULKHEAD_CONCAT_IMPL(a, b) a##b
#define BULKHEAD_CONCAT(a, b) BULKHEAD_CONCAT_IMPL(a, b)

// Sanitizers that shadow the stack (ASan, TSan, MSan, HWASan): code that switches stacks
// (the sandbox's CLONE_VM payload) takes a plainer path under them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(__SANITIZE_HWADDRESS__)
#define BULKHEAD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer) ||  \
    __has_feature(hwaddress_sanitizer)
#define BULKHEAD_SANITIZED 1
#endif
#endif
#ifndef BULKHEAD_SANITIZED
#define BULKHEAD_SANITIZED 0
#endif
