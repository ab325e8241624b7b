/** The visitor's call page: placeholder until the page lands. */
import { render } from 'preact';
import '../shared/base.css';
import { readBoot } from '../shared/boot.js';

const boot = readBoot('visitor');
render(<h1>{boot.companyName}</h1>, document.getElementById('app')!);
