/** The Spool dashboard: mounts the app. Built by scripts/build-dashboard.mjs. */
import { render } from 'preact';
import { App } from './app.js';
import './styles.css';

render(<App />, document.getElementById('app')!);
