/** The record breakdown pie chart (loaded on demand: Recharts is most of the bundle). */
import { Cell, Pie, PieChart, Tooltip } from 'recharts';

export default function RecordPie({ data }: { data: { name: string; value: number; color: string }[] }) {
  const shown = data.filter((d) => d.value > 0);
  const total = data.reduce((n, d) => n + d.value, 0);
  const summary = data.map((d) => `${d.name.toLowerCase()} ${d.value}`).join(', ');
  return (
    <figure className="pie" data-testid="record-pie">
      <div role="img" aria-label={`Record breakdown: ${summary}`}>
        <PieChart width={260} height={220} margin={{ top: 10, right: 10, bottom: 10, left: 10 }}>
          <Pie
            data={shown}
            dataKey="value"
            nameKey="name"
            cx="50%"
            cy="50%"
            innerRadius={48}
            outerRadius={85}
            paddingAngle={shown.length > 1 ? 1 : 0}
            stroke={shown.length > 1 ? '#fff' : 'none'}
            isAnimationActive={false}
          >
            {shown.map((d) => (
              <Cell key={d.name} fill={d.color} />
            ))}
          </Pie>
          <Tooltip />
        </PieChart>
      </div>
      <figcaption>
        <ul className="legend">
          {data.map((d) => (
            <li key={d.name}>
              <span className="swatch" style={{ background: d.color }} aria-hidden="true" />
              {d.name} <strong>{d.value}</strong>
              <span className="muted"> ({total > 0 ? Math.round((d.value / total) * 100) : 0}%)</span>
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
