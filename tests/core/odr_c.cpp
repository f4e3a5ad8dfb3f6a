// The module headers in reverse order of the umbrella header: any order of includes must work
// (e.g. <linux/if.h> from the netlink code before glibc's <net/if.h> from the resolver).
#include "bulkhead/version.hpp"
#include "bulkhead/sig.hpp"
#include "bulkhead/seccomp.hpp"
#include "bulkhead/sandbox.hpp"
#include "bulkhead/process.hpp"
#include "bulkhead/ns.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/dns.hpp"
#include "bulkhead/config.hpp"
#include "bulkhead/cgroup.hpp"
#include "bulkhead/caa.hpp"

int odr_c() { return bulkhead::version.major >= 0 ? 1 : 0; }
