/** The agent's dashboard: placeholder until the page lands. */
import { render } from 'preact';
import '../shared/base.css';

render(<h1>CallDocker</h1>, document.getElementById('app')!);
