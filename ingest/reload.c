/* reload.c - see reload.h. */
#include "postdesk/reload.h"

#include <errno.h>
#include <signal.h>

#include "postdesk/rules.h"

/* A value with its own reference count (a GAtomicRcBox): the holder keeps
 * one reference to the value in force, each reader one more while it uses
 * it, so whoever lets go last frees it, on whichever thread. */
struct pd_reload_ref {
  gpointer value;             /* owned */
  GDestroyNotify free_value;  /* how to free 'value' */
};

struct pd_reloadable {
  char *source;               /* owned */
  pd_reload_load_fn load;
  GDestroyNotify free_value;
  GMutex lock;                /* guards 'current' and 'generation' */
  pd_reload_ref_t *current;   /* owned: the holder's reference */
  guint generation;
  GMutex reload_lock;         /* one reload at a time, so two SIGHUPs cannot interleave */
};

static void
ref_clear (gpointer p)
{
  pd_reload_ref_t *ref = p;
  ref->free_value (ref->value);
}

static pd_reload_ref_t *
ref_new (gpointer value, GDestroyNotify free_value)
{
  pd_reload_ref_t *ref = g_atomic_rc_box_new0 (pd_reload_ref_t);
  ref->value = value;
  ref->free_value = free_value;
  return ref;
}

void
pd_reload_ref_release (pd_reload_ref_t *ref)
{
  if (ref != NULL)
    g_atomic_rc_box_release_full (ref, ref_clear);
}

gpointer
pd_reload_ref_value (const pd_reload_ref_t *ref)
{
  return ref->value;
}

bool
pd_reloadable_new (const char *source, pd_reload_load_fn load, GDestroyNotify free_value,
                   pd_reloadable_t **out, GError **err)
{
  *out = NULL;
  gpointer value = load (source, err);
  if (value == NULL)
    return false;
  pd_reloadable_t *r = g_new0 (pd_reloadable_t, 1);
  r->source = g_strdup (source);
  r->load = load;
  r->free_value = free_value;
  g_mutex_init (&r->lock);
  g_mutex_init (&r->reload_lock);
  r->current = ref_new (value, free_value);
  r->generation = 1;
  *out = r;
  return true;
}

void
pd_reloadable_free (pd_reloadable_t *r)
{
  if (r == NULL)
    return;
  /* Readers' references stay valid: only the holder's goes here. */
  pd_reload_ref_release (r->current);
  g_mutex_clear (&r->lock);
  g_mutex_clear (&r->reload_lock);
  g_free (r->source);
  g_free (r);
}

bool
pd_reloadable_reload (pd_reloadable_t *r, GError **err)
{
  g_mutex_lock (&r->reload_lock);
  /* The slow part, loading and checking, runs without the readers' lock:
   * they keep using the old value meanwhile. */
  gpointer value = r->load (r->source, err);
  if (value == NULL)
    {
      g_mutex_unlock (&r->reload_lock);
      return false;
    }
  pd_reload_ref_t *fresh = ref_new (value, r->free_value);
  g_mutex_lock (&r->lock);
  pd_reload_ref_t *old = r->current;
  r->current = fresh;
  r->generation++;
  g_mutex_unlock (&r->lock);
  g_mutex_unlock (&r->reload_lock);
  pd_reload_ref_release (old);
  return true;
}

pd_reload_ref_t *
pd_reloadable_acquire (pd_reloadable_t *r)
{
  g_mutex_lock (&r->lock);
  pd_reload_ref_t *ref = g_atomic_rc_box_acquire (r->current);
  g_mutex_unlock (&r->lock);
  return ref;
}

guint
pd_reloadable_generation (pd_reloadable_t *r)
{
  g_mutex_lock (&r->lock);
  guint g = r->generation;
  g_mutex_unlock (&r->lock);
  return g;
}

gpointer
pd_rules_reload_load (const char *source, GError **err)
{
  pd_rules_t *rules = NULL;
  if (!pd_rules_load (source, &rules, err))
    return NULL;
  return rules;
}

/* ---- SIGHUP ------------------------------------------------------------- */

/* Set by the signal handler, read and cleared by whoever reloads: a signal
 * handler may do nothing else safely. */
static volatile sig_atomic_t sighup_seen;

static void
on_sighup (int sig)
{
  (void) sig;
  sighup_seen = 1;
}

bool
pd_reload_watch_sighup (GError **err)
{
  struct sigaction sa = { 0 };
  sa.sa_handler = on_sighup;
  sigemptyset (&sa.sa_mask);
  /* Interrupted reads restart: a signal must not look like a broken input. */
  sa.sa_flags = SA_RESTART;
  if (sigaction (SIGHUP, &sa, NULL) != 0)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "cannot watch for SIGHUP: %s", g_strerror (errno));
      return false;
    }
  return true;
}

bool
pd_reload_sighup_take (void)
{
  if (!sighup_seen)
    return false;
  sighup_seen = 0;
  return true;
}

bool
pd_reloadable_reload_logged (pd_reloadable_t *r, const char *what)
{
  GError *err = NULL;
  if (pd_reloadable_reload (r, &err))
    {
      g_message ("reloaded %s from %s", what, r->source);
      return true;
    }
  g_warning ("kept the %s in force: the new %s in %s have problems:\n%s", what, what, r->source,
             err->message);
  g_error_free (err);
  return false;
}
