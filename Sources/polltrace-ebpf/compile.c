/* Compiles the BPF program built into this binary with the machine's clang. */
#include "loader.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The sources, as text: the program is compiled where it runs, against the
 * kernel it runs on (CO-RE relocations), so no object file is kept in the tree. */
/* #embed is C23; this clang accepts it in any mode. */
#pragma clang diagnostic ignored "-Wc23-extensions"
static const char program_source[] = {
#embed "polltrace.bpf.c"
    , 0};
static const char events_source[] = {
#embed "events.h"
    , 0};

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* asm/types.h lives in the multiarch directory on Debian; clang -target bpf does
 * not look there by itself. */
static const char *asm_include(void)
{
    struct stat st;
    if (stat("/usr/include/x86_64-linux-gnu/asm/types.h", &st) == 0)
        return "-I/usr/include/x86_64-linux-gnu";
    return "-I/usr/include";
}

int pt_compile(const char *dir, char *object_path, size_t size)
{
    struct stat st;
    if (stat("/usr/include/bpf/bpf_helpers.h", &st) != 0) {
        fprintf(stderr, "polltrace-ebpf: libbpf's headers are not installed (/usr/include/bpf/bpf_helpers.h); "
                        "install them (Debian: apt-get install libbpf-dev), or record with --backend strace\n");
        return 2;
    }
    if (write_file(dir, "polltrace.bpf.c", program_source) != 0 || write_file(dir, "events.h", events_source) != 0) {
        fprintf(stderr, "polltrace-ebpf: cannot write the BPF program to %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char source[512];
    snprintf(source, sizeof(source), "%s/polltrace.bpf.c", dir);
    snprintf(object_path, size, "%s/polltrace.bpf.o", dir);
    const char *clang = getenv("POLLTRACE_BPF_CLANG");
    if (!clang || !*clang)
        clang = "clang";
    char *args[] = {(char *)clang, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", (char *)asm_include(),
                    "-c", source, "-o", object_path, NULL};
    pid_t child;
    int err = posix_spawnp(&child, clang, NULL, NULL, args, environ);
    if (err != 0) {
        fprintf(stderr, "polltrace-ebpf: cannot run %s: %s; install clang (Debian: apt-get install clang) "
                        "or set POLLTRACE_BPF_CLANG, or record with --backend strace\n", clang, strerror(err));
        return 2;
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "polltrace-ebpf: %s could not compile the BPF program (does it target bpf? "
                        "`%s -print-targets`); record with --backend strace\n", clang, clang);
        return 2;
    }
    return 0;
}
