#pragma once
/// \file seccomp.hpp
/// seccomp: syscall tables per architecture, a policy builder, a compiler to classic BPF, a
/// BPF checker/emulator/disassembler, OCI and Docker JSON profiles, built-in profiles,
/// installation and the user-notification supervisor. See docs/seccomp.md.

#include "bulkhead/seccomp/arch.hpp"
#include "bulkhead/seccomp/bpf.hpp"
#include "bulkhead/seccomp/builtin.hpp"
#include "bulkhead/seccomp/compiler.hpp"
#include "bulkhead/seccomp/install.hpp"
#include "bulkhead/seccomp/policy.hpp"
#include "bulkhead/seccomp/profile.hpp"
