/* The spooled records as the text lines EBPFLogTranslator reads. */
#include "loader.h"
#include "events.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

long pt_write_text(FILE *spool, FILE *out)
{
    struct pt_wait_record r;
    uint32_t length;
    long written = 0;
    while (fread(&length, sizeof(length), 1, spool) == 1) {
        if (length < sizeof(struct pt_record) || length > sizeof(r))
            return -1;
        memset(&r, 0, sizeof(r));
        if (fread(&r, 1, length, spool) != length)
            return -1;
        const struct pt_record *h = &r.head;
        switch (h->kind) {
        case PT_CALL: {
            unsigned count = h->count;
            if ((size_t)length < sizeof(*h) + (size_t)count * sizeof(struct pt_epoll_event) && h->nr != 233)
                return -1;
            if (h->nr == 233) {
                if (count == 1)
                    fprintf(out, "V %u %u %llu\n", h->tid, h->event.mask, h->event.data);
            } else {
                for (unsigned i = 0; i < count && i < PT_MAX_EVENTS; i++)
                    fprintf(out, "V %u %u %llu\n", h->tid, r.events[i].mask, r.events[i].data);
            }
            if (h->pair[0] >= 0 && h->pair[1] >= 0)
                fprintf(out, "P %u %d %d\n", h->tid, h->pair[0], h->pair[1]);
            fprintf(out, "R %u %llu %d %lld %lld %lld %lld %lld\n", h->tid, h->ns, h->nr, h->ret, h->args[0],
                    h->args[1], h->args[2], h->args[3]);
            break;
        }
        case PT_FORK:
            fprintf(out, "F %u %llu %d %llu\n", h->tid, h->ns, h->nr, (unsigned long long)h->ret);
            break;
        case PT_EXIT:
            fprintf(out, "X %u %llu\n", h->tid, h->ns);
            break;
        case PT_LOST:
            fprintf(out, "Lost %lld events\n", h->ret);
            break;
        default:
            return -1;
        }
        written++;
    }
    return written;
}
