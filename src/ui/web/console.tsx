/**
 * The admin console (`/admin`): overview, models, dedicated endpoints, providers, tokens and tiers, usage and
 * cost, request log, bench reports. Every figure comes from admin-scoped routes; the admin token a person
 * pastes stays in this tab (sessionStorage) and goes only to this server. One file per panel in console/.
 */
import { render } from 'preact';
import { ConsoleApp } from './console/app.tsx';
import './style.css';

const root = document.getElementById('app')!;
root.textContent = '';
render(<ConsoleApp />, root);
