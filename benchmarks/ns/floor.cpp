// The kernel floor for a sandbox start as a program (the logic is in floor.hpp).
//   floor [--plain] [--pivot] [--root DIR] PATH [ARG...]
//     --root DIR  chroot into DIR, a prepared root (with --pivot: pivot_root into it and
//                 detach the old root, as a sandbox must)
//     --plain     no namespaces at all: fork + exec + wait (the baseline runner)
#include "floor.hpp"

int main(int argc, char** argv) {
    int i = 1;
    const char* root = nullptr;
    bool plain = false, pivot = false;
    for (;;) {
        if (i < argc && strcmp(argv[i], "--plain") == 0) {
            plain = true;
            ++i;
        } else if (i < argc && strcmp(argv[i], "--pivot") == 0) {
            pivot = true;
            ++i;
        } else if (i + 1 < argc && strcmp(argv[i], "--root") == 0) {
            root = argv[i + 1];
            i += 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: floor [--plain] [--pivot] [--root DIR] PATH [ARG...]\n");
        return 125;
    }
    int st = plain ? bh_floor::run_plain(argv + i) : bh_floor::run(root, pivot, argv + i);
    if (st < 0) return 125;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
