/** The visitor's call page: draws the app, then connects (see `call-flow.ts`). */
import { render } from 'preact';
import '../shared/base.css';
import './visitor.css';
import { App } from './app.js';
import { startPage } from './call-flow.js';

render(<App />, document.getElementById('app')!);
startPage();
