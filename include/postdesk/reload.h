/* reload.h - load, check, swap: a value read from files (a rule set now,
 * templates and the configuration later) that a running postdesk replaces
 * on SIGHUP without ever running with half of it or none.
 *
 * A reload loads the new value completely first. Only when that succeeds is
 * it swapped in, atomically; when it fails the old value stays in force and
 * the caller gets every problem. Readers take a reference for as long as
 * they use the value, so a swap never frees something a thread still reads.
 */
#ifndef POSTDESK_RELOAD_H
#define POSTDESK_RELOAD_H

#include "postdesk/common.h"

typedef struct pd_reloadable pd_reloadable_t;

/* Loads the value from 'source' (a path). Returns NULL with 'err' set when
 * the value has any problem. (transfer full) */
typedef gpointer (*pd_reload_load_fn) (const char *source, GError **err);

/* Loads the first value from 'source' with 'load'; 'free_value' frees a
 * value once the last reader has released it. On failure *out is NULL and
 * 'err' says why: without a first value there is nothing to run with. */
bool pd_reloadable_new (const char *source, pd_reload_load_fn load, GDestroyNotify free_value,
                        pd_reloadable_t **out, GError **err);

/* Frees the holder; values still acquired stay valid until released. */
void pd_reloadable_free (pd_reloadable_t *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_reloadable_t, pd_reloadable_free)

/* Loads 'source' again. On success the new value is in force for every
 * later pd_reloadable_acquire() and true is returned; on failure the old
 * value stays in force and 'err' holds the loader's error (every problem). */
bool pd_reloadable_reload (pd_reloadable_t *r, GError **err);

/* A reader's reference to the value in force. */
typedef struct pd_reload_ref pd_reload_ref_t;

/* The value in force, held until pd_reload_ref_release() (transfer full).
 * A later reload does not change what the reference points to. */
pd_reload_ref_t *pd_reloadable_acquire (pd_reloadable_t *r);

/* The value itself (borrowed: valid until the reference is released). */
gpointer pd_reload_ref_value (const pd_reload_ref_t *ref);

/* Gives the reference back; the last one of a swapped-out value frees it.
 * NULL-safe. */
void pd_reload_ref_release (pd_reload_ref_t *ref);

/* How many times a value was swapped in: 1 after pd_reloadable_new. */
guint pd_reloadable_generation (pd_reloadable_t *r);

/* Reloading on SIGHUP. pd_reload_watch_sighup installs a handler that only
 * notes the signal; pd_reload_sighup_take says whether one came since it
 * was last asked (and forgets it), so the thread that owns the values
 * reloads them at a moment of its choosing, never inside the handler. */
bool pd_reload_watch_sighup (GError **err);
bool pd_reload_sighup_take (void);

/* pd_reloadable_reload, with the outcome logged: a message naming 'what'
 * (e.g. "rules") on success, a warning with every problem and the note
 * that the old value stays in force on failure. */
bool pd_reloadable_reload_logged (pd_reloadable_t *r, const char *what);

/* The loader for rule sets: pd_rules_load() on 'source' (a folder). */
gpointer pd_rules_reload_load (const char *source, GError **err);

#endif
