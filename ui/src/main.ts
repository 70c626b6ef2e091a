import { createPinia } from 'pinia'
import { createApp } from 'vue'
import 'tdesign-vue-next/es/style/index.css'
import App from './App.vue'
import { configureClient } from './api/client'
import { i18n, initialLocale, setLocale } from './i18n'
import { loadConfig } from './kit/config'
import { router, sessionExpired } from './router'
import './style.css'

async function start(): Promise<void> {
  const app = createApp(App).use(createPinia()).use(i18n)
  configureClient({ onUnauthorized: sessionExpired })
  try {
    const config = await loadConfig()
    setLocale(initialLocale(config.default_locale))
  } catch {
    setLocale(initialLocale('zh-CN'))
  }
  app.use(router)
  app.mount('#app')
}

void start()
