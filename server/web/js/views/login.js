// Login: user + password → POST /api/login; the token is kept in sessionStorage (the server also sets an
// HttpOnly cookie). Goes to ?next= or the role's landing page.
import { h, mount } from '../dom.js';
import { t, getLang, setLang, LANGUAGES } from '../i18n.js';
import { request, setSession } from '../api.js';
import { errorText } from '../ui.js';

export async function loginView(root, { query }) {
  const user = h('input', { name: 'user', autocomplete: 'username', required: true, testid: 'login-user', autofocus: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' });
  const error = h('div', { class: 'alert alert-error', role: 'alert', testid: 'login-error', hidden: true });
  const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'login-submit' }, t('login.submit'));
  const form = h('form', {
    class: 'login-form', testid: 'login-form', novalidate: true,
    onSubmit: async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      if (!user.value.trim() || !password.value) {
        error.textContent = t('login.missing');
        error.hidden = false;
        return;
      }
      submit.disabled = true;
      try {
        const { data } = await request('POST', '/api/login', { body: { user: user.value.trim(), password: password.value } });
        setSession({ token: data.token, user: data.user, display_name: data.display_name || data.user, role: data.role, expires_at: data.expires_at });
        const next = query.get('next');
        location.hash = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : data.role === 'technician' ? '#/my' : '#/dashboard';
      } catch (e) {
        error.textContent = e.status === 401 ? t('login.wrong') : e.status === 429 ? t('login.too_many') : errorText(e);
        error.hidden = false;
        password.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('login.user')), user),
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('login.password')), password),
  error, submit);

  mount(root, h('div', { class: 'login-page' },
    h('div', { class: 'login-card' },
      h('div', { class: 'login-brand' },
        h('div', { class: 'login-logo', 'aria-hidden': 'true' }, '☀'),
        h('div', {}, h('h1', {}, t('app.name')), h('p', { class: 'sub' }, t('login.tagline')))),
      form,
      h('div', { class: 'login-foot' },
        h('select', { class: 'lang-switch', testid: 'lang-switch', 'aria-label': t('header.language'), onChange: (e) => setLang(e.target.value) },
          LANGUAGES.map((l) => h('option', { value: l.code, selected: l.code === getLang() }, l.label)))))));
  user.focus();
}
