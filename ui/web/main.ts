// The page's entry point (placeholder until the map lands in the next commit).
import './style.css';
import { select } from 'd3';

select('#app').append('p').text('trustmap');
