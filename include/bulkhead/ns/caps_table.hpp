#pragma once
/// \file ns/caps_table.hpp
/// Capability names and numbers (linux/capability.h, up to CAP_CHECKPOINT_RESTORE = 40), and
/// resource-limit names (RLIMIT_*).

#include "bulkhead/config.hpp"

#include <array>
#include <string_view>

#include <sys/resource.h>

BULKHEAD_NAMESPACE_BEGIN
namespace ns::detail {

struct cap_name {
    std::string_view name; // without the CAP_ prefix, lower case
    int value;
};

inline constexpr std::array<cap_name, 41> cap_table = {{
    {"chown", 0},           {"dac_override", 1},     {"dac_read_search", 2},
    {"fowner", 3},          {"fsetid", 4},           {"kill", 5},
    {"setgid", 6},          {"setuid", 7},           {"setpcap", 8},
    {"linux_immutable", 9}, {"net_bind_service", 10}, {"net_broadcast", 11},
    {"net_admin", 12},      {"net_raw", 13},         {"ipc_lock", 14},
    {"ipc_owner", 15},      {"sys_module", 16},      {"sys_rawio", 17},
    {"sys_chroot", 18},     {"sys_ptrace", 19},      {"sys_pacct", 20},
    {"sys_admin", 21},      {"sys_boot", 22},        {"sys_nice", 23},
    {"sys_resource", 24},   {"sys_time", 25},        {"sys_tty_config", 26},
    {"mknod", 27},          {"lease", 28},           {"audit_write", 29},
    {"audit_control", 30},  {"setfcap", 31},         {"mac_override", 32},
    {"mac_admin", 33},      {"syslog", 34},          {"wake_alarm", 35},
    {"block_suspend", 36},  {"audit_read", 37},      {"perfmon", 38},
    {"bpf", 39},            {"checkpoint_restore", 40},
}};

inline constexpr int cap_last_known = 40;

struct rlimit_name {
    std::string_view name; // without RLIMIT_, lower case
    int resource;
};

inline constexpr std::array<rlimit_name, 16> rlimit_table = {{
    {"as", RLIMIT_AS},
    {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE},
    {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},
    {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},
    {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
}};

} // namespace ns::detail
BULKHEAD_NAMESPACE_END
