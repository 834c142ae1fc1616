#include <sqlite3.h>

/// `sqlite3_config` is variadic, which Swift cannot call: this is its one use.
/// Turns SQLite's memory statistics off. With them on, every allocation and free
/// SQLite makes takes a process-wide mutex to count it; PollTrace never reads the
/// counts. Only has an effect before SQLite initializes (the process's first
/// open); later it returns SQLITE_MISUSE and changes nothing.
static inline int polltrace_sqlite_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
