/* pq_count — counts the statements a process sends to PostgreSQL through libpq, by kind and text, without
 * touching the program: loaded with LD_PRELOAD, it wraps PQexec, PQprepare, PQexecPrepared and PQexecParams
 * (what libpqxx calls) and, at exit, writes one line per distinct statement to $PQ_COUNT_OUT.<pid>:
 *
 *     calls  parameters  kind|first 140 characters of the text
 *
 * (a prepared statement is listed under its text, not its name). Used to compare the statements ingest issues
 * per group commit between two builds (docs/performance.md, "The reshape of 2026-12-05"):
 *
 *     cc -O2 -shared -fPIC -o pq_count.so bench/ingest/pq_count.c -ldl
 *     PQ_COUNT_OUT=/tmp/stmts LD_PRELOAD=$PWD/pq_count.so \
 *         build/release/bench/ingest/bench_ingest --db postgres --rate 5000 --seconds 15
 *     sort -nr /tmp/stmts.*
 *
 * Child processes (the fleet, pg_ctl) inherit it; those that send nothing write nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;

enum { kMaxKeys = 512, kKeyChars = 160, kTextChars = 140 };

static struct {
    char key[kKeyChars];
    long calls;
    long params;
} counts[kMaxKeys];
static int n_counts;
static struct {
    char name[32];
    char text[kTextChars];
} prepared[kMaxKeys];
static int n_prepared;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void count(const char* kind, const char* text, long params) {
    char key[kKeyChars];
    snprintf(key, sizeof key, "%s|%.140s", kind, text != NULL ? text : "");
    for (char* p = key; *p != '\0'; ++p)
        if (*p == '\n') *p = ' ';
    pthread_mutex_lock(&lock);
    int i = 0;
    while (i < n_counts && strcmp(counts[i].key, key) != 0) ++i;
    if (i == n_counts && n_counts < kMaxKeys) {
        strcpy(counts[i].key, key);
        ++n_counts;
    }
    if (i < kMaxKeys) {
        ++counts[i].calls;
        counts[i].params += params;
    }
    pthread_mutex_unlock(&lock);
}

static void* real(const char* name) {
    void* f = dlsym(RTLD_NEXT, name);
    if (f == NULL) abort();
    return f;
}

PGresult* PQexec(PGconn* conn, const char* query) {
    static PGresult* (*f)(PGconn*, const char*);
    if (f == NULL) f = (PGresult * (*)(PGconn*, const char*)) real("PQexec");
    count("exec", query, 0);
    return f(conn, query);
}

PGresult* PQprepare(PGconn* conn, const char* name, const char* query, int n, const Oid* types) {
    static PGresult* (*f)(PGconn*, const char*, const char*, int, const Oid*);
    if (f == NULL) f = (PGresult * (*)(PGconn*, const char*, const char*, int, const Oid*)) real("PQprepare");
    pthread_mutex_lock(&lock);
    if (n_prepared < kMaxKeys) {
        snprintf(prepared[n_prepared].name, sizeof prepared[n_prepared].name, "%s", name);
        snprintf(prepared[n_prepared].text, sizeof prepared[n_prepared].text, "%s", query);
        ++n_prepared;
    }
    pthread_mutex_unlock(&lock);
    count("prepare", query, 0);
    return f(conn, name, query, n, types);
}

PGresult* PQexecPrepared(PGconn* conn, const char* name, int n, const char* const* values, const int* lengths,
                         const int* formats, int result_format) {
    static PGresult* (*f)(PGconn*, const char*, int, const char* const*, const int*, const int*, int);
    if (f == NULL)
        f = (PGresult * (*)(PGconn*, const char*, int, const char* const*, const int*, const int*, int))
            real("PQexecPrepared");
    char text[kTextChars];
    snprintf(text, sizeof text, "%s", name);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_prepared; ++i)
        if (strcmp(prepared[i].name, name) == 0) {
            snprintf(text, sizeof text, "%.60s",
                     prepared[i].text);  // sizes of one statement counted together
            break;
        }
    pthread_mutex_unlock(&lock);
    count("execPrepared", text, n);
    return f(conn, name, n, values, lengths, formats, result_format);
}

PGresult* PQexecParams(PGconn* conn, const char* query, int n, const Oid* types, const char* const* values,
                       const int* lengths, const int* formats, int result_format) {
    static PGresult* (*f)(PGconn*, const char*, int, const Oid*, const char* const*, const int*, const int*,
                          int);
    if (f == NULL)
        f = (PGresult * (*)(PGconn*, const char*, int, const Oid*, const char* const*, const int*, const int*,
                            int)) real("PQexecParams");
    count("execParams", query, n);
    return f(conn, query, n, types, values, lengths, formats, result_format);
}

__attribute__((destructor)) static void write_counts(void) {
    const char* out = getenv("PQ_COUNT_OUT");
    if (n_counts == 0 || out == NULL) return;
    char path[512];
    snprintf(path, sizeof path, "%s.%d", out, (int)getpid());
    FILE* f = fopen(path, "w");
    if (f == NULL) return;
    for (int i = 0; i < n_counts; ++i)
        fprintf(f, "%8ld %10ld %s\n", counts[i].calls, counts[i].params, counts[i].key);
    fclose(f);
}
