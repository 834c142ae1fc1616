/* The loader's parts: compile (compile.c), load and record (session.c), and the
 * text the Swift side reads (text.c). */
#ifndef POLLTRACE_EBPF_LOADER_H
#define POLLTRACE_EBPF_LOADER_H

#include <signal.h>
#include <stdio.h>

struct bpf_object;
struct ring_buffer;

struct pt_session {
    struct bpf_object *object;
    char work[256]; /* the temporary directory holding the compiled program */
};

/* Compiles the built-in BPF program into `dir`/polltrace.bpf.o; 0, or 2 with a
 * message on stderr. */
int pt_compile(const char *dir, char *object_path, size_t size);

/* Compiles and loads the program; 0, or 2 with a message saying why. */
int pt_open(struct pt_session *session, unsigned ring_mb);

/* Follows `pid`, prints READY, spools records until `*stopping`, then writes
 * `output` as text lines. */
int pt_record(struct pt_session *session, unsigned pid, const char *output, volatile sig_atomic_t *stopping);

void pt_close(struct pt_session *session);

/* Writes the spooled binary records in `spool` as text lines to `out`; returns
 * the records written, or -1. */
long pt_write_text(FILE *spool, FILE *out);

#endif
