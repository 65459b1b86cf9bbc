/*
 * tests/unit/test_store_secrets.c - connection secrets at rest and the master key: tokens never
 * appear in the database files, every value gets its own nonce, a wrong or missing key fails
 * with HS_ECRYPTO and a clear message, key files are created 0600 and refused when readable by
 * others, the environment variable works, altered ciphertext is detected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hoopsync/store.h"
#include "util/env.h"

#define KEY_A   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY_B   "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define TOKEN   "tok-PLAINTEXT-7f3a9c-access"
#define REFRESH "rt-PLAINTEXT-55e1b0-refresh"

struct fixture {
    char dir[64];
    char path[128];
    char keyfile[128];
    int64_t now;
    struct hs_env env;
    struct hs_store_options opt;
    struct hs_store *s;
};

static int64_t fake_now(void *ud)
{
    return ((struct fixture *)ud)->now;
}

static uint64_t fake_rand(void *ud)
{
    (void)ud;
    return 0;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int open_with(struct fixture *f, const char *hex, const char *keyfile, struct hs_error *err)
{
    hs_store_close(f->s);
    f->s = NULL;
    f->opt.master_key_hex = hex;
    f->opt.key_file = keyfile;
    return hs_store_open(f->path, &f->opt, &f->s, err);
}

static int setup(void **state)
{
    unsetenv(HS_STORE_KEY_ENV);
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hs-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/hoopsync.db", f->dir);
    snprintf(f->keyfile, sizeof f->keyfile, "%s/master.key", f->dir);
    f->now = 1700000000000;
    f->env = (struct hs_env){.now_ms = fake_now, .rand64 = fake_rand, .ud = f};
    f->opt = (struct hs_store_options){.env = &f->env};
    struct hs_error err = {0};
    if (open_with(f, KEY_A, NULL, &err) != HS_OK)
        return -1;
    if (hs_store_connection_put(f->s, "qbo", HS_STORE_ACCOUNTING, "quickbooks", "9130", NULL,
                                &err) != HS_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    hs_store_close(f->s);
    rm_dir(f->dir);
    unsetenv(HS_STORE_KEY_ENV);
    free(f);
    return 0;
}

/* True when needle occurs in any file of dir (the database, its WAL, its shared memory). */
static bool dir_contains(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;
    char p[512];
    size_t nl = strlen(needle);
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *fp = fopen(p, "rb");
        if (fp == NULL)
            continue;
        fseek(fp, 0, SEEK_END);
        long n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        char *buf = malloc((size_t)n + 1);
        size_t got = fread(buf, 1, (size_t)n, fp);
        fclose(fp);
        for (size_t i = 0; !found && got >= nl && i <= got - nl; i++)
            found = memcmp(buf + i, needle, nl) == 0;
        free(buf);
    }
    closedir(d);
    return found;
}

static void test_store_secrets_round_trip(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_true(hs_store_has_key(f->s));
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", TOKEN, REFRESH, f->now + 3600000, &err),
                     HS_OK);
    assert_int_equal(hs_store_client_secret_set(f->s, "qbo", "cs-123", &err), HS_OK);
    struct hs_store_secrets sec;
    assert_int_equal(hs_store_secrets_get(f->s, "qbo", &sec, &err), HS_OK);
    assert_string_equal(sec.access_token, TOKEN);
    assert_string_equal(sec.refresh_token, REFRESH);
    assert_string_equal(sec.client_secret, "cs-123");
    assert_true(sec.expires_at == f->now + 3600000);
    hs_store_secrets_release(&sec);
    assert_null(sec.access_token);

    /* a provider that does not rotate refresh tokens: NULL keeps the old one */
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", "tok-2", NULL, f->now + 7200000, &err),
                     HS_OK);
    assert_int_equal(hs_store_secrets_get(f->s, "qbo", &sec, &err), HS_OK);
    assert_string_equal(sec.access_token, "tok-2");
    assert_string_equal(sec.refresh_token, REFRESH);
    hs_store_secrets_release(&sec);

    assert_int_equal(hs_store_client_secret_set(f->s, "qbo", NULL, &err), HS_OK);
    struct hs_store_connection c;
    assert_int_equal(hs_store_connection_get(f->s, "qbo", &c, &err), HS_OK);
    assert_true(c.has_access_token && c.has_refresh_token && !c.has_client_secret);
    assert_true(c.token_expires_at == f->now + 7200000);
    hs_store_connection_release(&c);

    assert_int_equal(hs_store_tokens_set(f->s, "nope", "t", "r", 0, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_secrets_get(f->s, "nope", &sec, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", "", "r", 0, &err), HS_EINVAL);
}

static void test_store_secrets_never_reach_the_disk_in_plaintext(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(
        hs_store_connection_put(f->s, "qbo2", HS_STORE_ACCOUNTING, "quickbooks", "1", NULL, &err),
        HS_OK);
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", TOKEN, REFRESH, 1, &err), HS_OK);
    assert_int_equal(hs_store_tokens_set(f->s, "qbo2", TOKEN, REFRESH, 1, &err), HS_OK);
    assert_int_equal(hs_store_client_secret_set(f->s, "qbo", "cs-PLAINTEXT-client", &err), HS_OK);
    /* while open (data still in the WAL) and after close (checkpointed into the db) */
    assert_false(dir_contains(f->dir, "PLAINTEXT"));
    hs_store_close(f->s);
    f->s = NULL;
    assert_false(dir_contains(f->dir, "PLAINTEXT"));
    assert_false(dir_contains(f->dir, "7f3a9c"));

    /* the same token sealed twice gives different bytes (fresh nonce per value) */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT COUNT(DISTINCT access_token), "
                                        "MIN(length(access_token)) FROM connections",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    assert_int_equal(sqlite3_column_int(st, 1), 1 + 24 + 16 + (int)strlen(TOKEN));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_store_wrong_master_key_is_refused(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", TOKEN, REFRESH, 1, &err), HS_OK);
    assert_int_equal(open_with(f, KEY_B, NULL, &err), HS_ECRYPTO);
    assert_null(f->s);
    assert_non_null(strstr(err.msg, "cannot open store '"));
    assert_non_null(strstr(err.msg, "the master key is not the one this store's secrets are "
                                    "sealed with"));
    assert_null(strstr(err.msg, KEY_B));
    /* malformed keys are refused, and the message does not echo the key */
    assert_int_equal(open_with(f, "abc123", NULL, &err), HS_ECRYPTO);
    assert_non_null(strstr(err.msg, "expected 64 hex characters"));
    assert_int_equal(open_with(f, KEY_A "00", NULL, &err), HS_ECRYPTO);
    assert_null(strstr(err.msg, KEY_A));
    /* the right key still works */
    assert_int_equal(open_with(f, KEY_A, NULL, &err), HS_OK);
    struct hs_store_secrets sec;
    assert_int_equal(hs_store_secrets_get(f->s, "qbo", &sec, &err), HS_OK);
    assert_string_equal(sec.access_token, TOKEN);
    hs_store_secrets_release(&sec);
}

static void test_store_without_key_opens_but_refuses_secrets(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", TOKEN, REFRESH, 1, &err), HS_OK);
    assert_int_equal(open_with(f, NULL, NULL, &err), HS_OK);
    assert_false(hs_store_has_key(f->s));
    struct hs_store_secrets sec;
    assert_int_equal(hs_store_secrets_get(f->s, "qbo", &sec, &err), HS_ECRYPTO);
    assert_non_null(strstr(err.msg, "no master key"));
    assert_null(sec.access_token);
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", "t", NULL, 1, &err), HS_ECRYPTO);
    /* everything else works without a key */
    assert_int_equal(hs_store_cursor_set(f->s, "qbo", "customer", "x", &err), HS_OK);
}

static void test_store_master_key_from_environment(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", TOKEN, REFRESH, 1, &err), HS_OK);
    setenv(HS_STORE_KEY_ENV, KEY_A, 1);
    assert_int_equal(open_with(f, NULL, NULL, &err), HS_OK);
    assert_true(hs_store_has_key(f->s));
    struct hs_store_secrets sec;
    assert_int_equal(hs_store_secrets_get(f->s, "qbo", &sec, &err), HS_OK);
    assert_string_equal(sec.refresh_token, REFRESH);
    hs_store_secrets_release(&sec);
    setenv(HS_STORE_KEY_ENV, "not-hex", 1);
    assert_int_equal(open_with(f, NULL, NULL, &err), HS_ECRYPTO);
    assert_non_null(strstr(err.msg, "$" HS_STORE_KEY_ENV));
    setenv(HS_STORE_KEY_ENV, KEY_B, 1);
    assert_int_equal(open_with(f, NULL, NULL, &err), HS_ECRYPTO);
    unsetenv(HS_STORE_KEY_ENV);
}

static void test_store_keyfile_create_and_permissions(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_keyfile_create(f->keyfile, &err), HS_OK);
    struct stat st;
    assert_int_equal(stat(f->keyfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, HS_STORE_KEY_BYTES);
    /* never overwritten */
    uint8_t k1[HS_STORE_KEY_BYTES], k2[HS_STORE_KEY_BYTES];
    assert_int_equal(hs_store_keyfile_load(f->keyfile, k1, &err), HS_OK);
    assert_int_equal(hs_store_keyfile_create(f->keyfile, &err), HS_EEXIST);
    assert_non_null(strstr(err.msg, "refusing to overwrite"));
    assert_int_equal(hs_store_keyfile_load(f->keyfile, k2, &err), HS_OK);
    assert_memory_equal(k1, k2, sizeof k1);

    /* a store created with the key file opens with it again (and not with another key) */
    char other[200];
    snprintf(other, sizeof other, "%s/other.db", f->dir);
    struct hs_store *s = NULL;
    struct hs_store_options o = {.env = &f->env, .key_file = f->keyfile};
    assert_int_equal(hs_store_open(other, &o, &s, &err), HS_OK);
    assert_true(hs_store_has_key(s));
    hs_store_close(s);
    assert_int_equal(hs_store_open(other, &o, &s, &err), HS_OK);
    hs_store_close(s);
    o.master_key_hex = KEY_A;
    assert_int_equal(hs_store_open(other, &o, &s, &err), HS_ECRYPTO);

    /* group/world readable: refused with the fix in the message */
    assert_int_equal(chmod(f->keyfile, 0644), 0);
    assert_int_equal(hs_store_keyfile_load(f->keyfile, k2, &err), HS_ECRYPTO);
    assert_non_null(strstr(err.msg, "lets group or others read it"));
    assert_non_null(strstr(err.msg, "chmod 600"));
    o.master_key_hex = NULL;
    assert_int_equal(hs_store_open(other, &o, &s, &err), HS_ECRYPTO);
    assert_null(s);
    assert_non_null(strstr(err.msg, "cannot open store '"));
    assert_int_equal(chmod(f->keyfile, 0640), 0);
    assert_int_equal(hs_store_keyfile_load(f->keyfile, k2, &err), HS_ECRYPTO);
    assert_int_equal(chmod(f->keyfile, 0400), 0);
    assert_int_equal(hs_store_keyfile_load(f->keyfile, k2, &err), HS_OK);

    /* symlinks and wrong sizes are refused; a missing file is HS_ENOTFOUND */
    char link[200];
    snprintf(link, sizeof link, "%s/link.key", f->dir);
    assert_int_equal(symlink(f->keyfile, link), 0);
    assert_int_equal(hs_store_keyfile_load(link, k2, &err), HS_ECRYPTO);
    assert_non_null(strstr(err.msg, "symbolic link"));
    char small[200];
    snprintf(small, sizeof small, "%s/small.key", f->dir);
    FILE *fp = fopen(small, "w");
    fputs("short", fp);
    fclose(fp);
    assert_int_equal(chmod(small, 0600), 0);
    assert_int_equal(hs_store_keyfile_load(small, k2, &err), HS_ECRYPTO);
    assert_non_null(strstr(err.msg, "holds 5 bytes"));
    char missing[200];
    snprintf(missing, sizeof missing, "%s/missing.key", f->dir);
    assert_int_equal(hs_store_keyfile_load(missing, k2, &err), HS_ENOTFOUND);
    assert_int_equal(hs_store_keyfile_create("/nonexistent-dir/k", &err), HS_EIO);
}

static void test_store_altered_ciphertext_is_detected(void **state)
{
    struct fixture *f = *state;
    struct hs_error err = {0};
    assert_int_equal(hs_store_tokens_set(f->s, "qbo", TOKEN, REFRESH, 1, &err), HS_OK);
    hs_store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    /* flip the last byte of the sealed refresh token */
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE connections SET refresh_token = "
                                  "substr(refresh_token, 1, length(refresh_token) - 1) || "
                                  "CASE WHEN substr(refresh_token, -1) = x'00' THEN x'01' "
                                  "ELSE x'00' END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(open_with(f, KEY_A, NULL, &err), HS_OK);
    struct hs_store_secrets sec;
    assert_int_equal(hs_store_secrets_get(f->s, "qbo", &sec, &err), HS_ECRYPTO);
    assert_null(sec.access_token);
    assert_non_null(strstr(err.msg, "cannot read the refresh token of connection 'qbo'"));
    assert_null(strstr(err.msg, "PLAINTEXT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_secrets_round_trip),
        T(test_store_secrets_never_reach_the_disk_in_plaintext),
        T(test_store_wrong_master_key_is_refused),
        T(test_store_without_key_opens_but_refuses_secrets),
        T(test_store_master_key_from_environment),
        T(test_store_keyfile_create_and_permissions),
        T(test_store_altered_ciphertext_is_detected),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
