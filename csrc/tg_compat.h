/* Portability macros for the compiled core, so that the one C source Cython
 * writes builds with GCC and Clang (Linux, musl, macOS) and with MSVC (Windows).
 *
 * TG_THREAD_LOCAL: storage class of a per-thread variable.
 *   - MSVC's C compiler accepts _Thread_local only from /std:c11 on, and
 *     this build sets no C standard; __declspec(thread) works in
 *     every MSVC and clang-cl, and in a DLL loaded at run time (a .pyd) since
 *     Windows Vista.
 *   - C11 and later: the standard _Thread_local (GCC, Clang, musl, macOS).
 *   - C++11 and later, in case the module is ever compiled as C++.
 *   - Older GCC/Clang language modes: their __thread extension.
 * A compiler with none of these fails here, by name, rather than silently
 * sharing one recorder stack between threads. */
#ifndef TG_COMPAT_H
#define TG_COMPAT_H

#if defined(_MSC_VER)
#  define TG_THREAD_LOCAL __declspec(thread)
#elif defined(__cplusplus) && __cplusplus >= 201103L
#  define TG_THREAD_LOCAL thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#  define TG_THREAD_LOCAL _Thread_local
#elif defined(__GNUC__)
#  define TG_THREAD_LOCAL __thread
#else
#  error "tapegrad needs thread-local storage: C11 _Thread_local, MSVC __declspec(thread) or GCC __thread"
#endif

#endif /* TG_COMPAT_H */
